"""``rightsize report RUN_DIR|S3_URI``: regenerate a run's HTML report and CloudFormation snippet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rightsizing.adapters.s3 import UriStore
from rightsizing.exceptions import RightsizingError
from rightsizing.models.result import RunResult
from rightsizing.report.publish import publish_report
from rightsizing.store import LocalStore, get_json, join_uri, local_uri

console = Console(highlight=False)


def run_uri_of(location: str) -> str:
    """A run folder path, a file:// URI or an s3:// URI, as a store URI of the run's prefix."""
    if location.startswith(("s3://", "file://")):
        return location.rstrip("/")
    path = Path(location)
    if path.name == "result.json":
        path = path.parent
    if not path.is_dir():
        raise RightsizingError(f"no run folder at {location}")
    return local_uri(path)


def report_command(
    run: Annotated[str, typer.Argument(help="Run folder (…/runs/<run id>) or s3://bucket/runs/<run id>.")],
) -> None:
    """Regenerate report.html and endpoint-snippet.yaml from a run's result.json and traces; print the report's path."""
    try:
        run_uri = run_uri_of(run)
        store = UriStore()
        result = RunResult.model_validate(get_json(join_uri(run_uri, "result.json"), store))
        written = publish_report(result, run_uri, store)
    except RightsizingError as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    report = written["report"]
    print(LocalStore.path_of(report) if report.startswith("file://") else report)
