"""``--output text|json``: where a command's messages and its result go.

text: rich output on stdout. json: exactly one JSON document on stdout (the result, or ``{"error": ...}``), and the
human-readable messages on stderr, so ``rightsize status RUN --output json | jq .status`` works.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from rightsizing_cli.exit_codes import ExitCode

# The AWS commands need only the base install; local mode and bench need the local model server and Locust.
LOCAL_EXTRA = "this command needs the local extras: pip install 'sagemaker-rightsizing[local]'"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", help="text, or json: one JSON document on stdout (messages go to stderr)."),
]


def make_console(stderr: bool = False) -> Console:
    console = Console(highlight=False, stderr=stderr)
    if not console.is_terminal:
        console.width = 150  # logs and CI: don't squeeze tables into 80 columns
    return console


class Output:
    def __init__(self, output: OutputFormat = OutputFormat.text) -> None:
        self.is_json = output is OutputFormat.json
        self.console = make_console(stderr=self.is_json)

    def document(self, document: Any) -> None:
        """The command's result, in json mode (text mode prints its own tables)."""
        if self.is_json:
            sys.stdout.write(to_json(document) + "\n")
            sys.stdout.flush()

    def fail(self, message: str, code: ExitCode = ExitCode.INVALID, **details: Any) -> NoReturn:
        # One line however long (the terminal wraps it): a script can grep it, a test can compare it.
        self.console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
        self.document({"error": message, "exit_code": int(code), **details})
        raise typer.Exit(int(code))


def to_json(document: Any) -> str:
    return json.dumps(document, indent=2, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
