"""``rightsize``: validate a request, run it locally through the real state machine, export the JSON Schemas."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rightsizing.exceptions import RightsizingError
from rightsizing.models.plan import candidate_id_for, resource_name
from rightsizing.models.request import RightsizingRequest, parse_request
from rightsizing.models.result import RunResult
from rightsizing_cli.bench import bench
from rightsizing_cli.image import image_app
from rightsizing_cli.output import print_result, print_validated
from rightsizing_cli.prices import prices_command
from rightsizing_cli.progress import ProgressPrinter
from rightsizing_cli.report import report_command

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)
console = Console(highlight=False)
if not console.is_terminal:
    console.width = 150  # logs and CI: don't squeeze the results table into 80 columns
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"

EXIT_INVALID = 2
EXIT_NO_RECOMMENDATION = 3
EXIT_INTERRUPTED = 130


def load_request_file(path: Path) -> RightsizingRequest:
    """Read and validate a request file; payload files are resolved relative to it."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise RightsizingError(f"request file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise RightsizingError(f"{path} is not valid JSON: {e}") from None
    request = parse_request(document, base_dir=path.parent)
    if not request.is_local:
        from rightsizing.adapters.guard import check_region  # botocore's region list: only for AWS requests

        check_region(request.region)
    return request


def _fail(message: str, code: int = EXIT_INVALID) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Request JSON file.")]) -> None:
    """Check a request without running anything (offline: no AWS call, no credentials needed)."""
    from rightsizing.adapters.guard import check_instance_types  # botocore's hosting types: only for ml.* requests

    try:
        request = load_request_file(file)
        check_instance_types(request)
    except RightsizingError as e:
        _fail(str(e))
        return
    print_validated(console, request)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Request JSON file (local.* candidates).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for runs and artefacts.")] = Path(
        "rightsizing-runs"
    ),
) -> None:
    """Run a rightsizing job on this machine: the real state machine, real model servers, real Locust load."""
    from rightsizing_local.run import new_run_id, run_local

    try:
        request = load_request_file(file)
        parse_request(request.model_dump(mode="json"))  # the same check the plan step makes, before any server
    except RightsizingError as e:
        _fail(str(e))
        return
    run_id = new_run_id(request.name)
    printer = ProgressPrinter(console, _candidate_labels(request, run_id), request.sla)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    console.print(
        f"[bold]Run {run_id}[/]: {printer.count} candidate(s), target {request.traffic} at {request.sla} (local mode)"
    )
    try:
        outcome = run_local(request, output, progress=printer, run_id=run_id)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: every local model server and load generator was stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except RightsizingError as e:
        _fail(str(e))
        return
    if outcome.execution.status != "SUCCEEDED" or outcome.result is None:
        _fail(f"run {outcome.execution.status}: {outcome.execution.error}: {outcome.execution.cause}", 1)
        return
    print_result(console, outcome.result, outcome.run_dir)
    if outcome.result.recommendation is None:
        raise typer.Exit(EXIT_NO_RECOMMENDATION)


@app.command()
def schema(
    write: Annotated[bool, typer.Option("--write", help=f"Write the schemas to {SCHEMA_DIR.name}/.")] = False,
) -> None:
    """Print (or write) the JSON Schemas of the request and the result."""
    schemas = json_schemas()
    if not write:
        sys.stdout.write(json.dumps(schemas, indent=2) + "\n")
        return
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, document in schemas.items():
        (SCHEMA_DIR / f"{name}.schema.json").write_text(json.dumps(document, indent=2) + "\n")
        console.print(f"wrote {SCHEMA_DIR / name}.schema.json")


def json_schemas() -> dict[str, dict[str, Any]]:
    return {
        "request": RightsizingRequest.model_json_schema(),
        "result": RunResult.model_json_schema(),
    }


def _candidate_labels(request: RightsizingRequest, run_id: str) -> dict[str, str]:
    """Endpoint name -> "candidate id (instance type)", named exactly as the plan step will name them."""
    labels = {}
    for index, (spec, env) in enumerate(request.variants(), start=1):
        labels[resource_name(run_id, index)] = candidate_id_for(index, spec.instance_type, env)
    return labels


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


app.command("prices")(prices_command)
app.command("report")(report_command)
app.command("bench")(bench)
app.add_typer(image_app, name="image")


if __name__ == "__main__":
    app()
