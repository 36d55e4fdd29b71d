"""Rightsize SageMaker real-time endpoints: run a request on the deployed AWS stack (start, watch, status, report,
cancel, list) or on this machine (run), check one (validate), size a local server (bench), look back (history,
compare)."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rightsizing.exceptions import InvalidRequest, RightsizingError
from rightsizing.models.events import EVENT_MODELS
from rightsizing.models.messages import did_you_mean
from rightsizing.models.plan import candidate_id_for, resource_name
from rightsizing.models.request import RightsizingRequest, parse_request
from rightsizing.models.result import RunResult
from rightsizing.payload_bodies import collect_bodies
from rightsizing_cli import aws_runs
from rightsizing_cli.bench import bench
from rightsizing_cli.emit import LOCAL_EXTRA, Output, OutputFormat, OutputOption, make_console
from rightsizing_cli.exit_codes import ExitCode, execution_failure
from rightsizing_cli.history import compare, history
from rightsizing_cli.image import image_app
from rightsizing_cli.output import print_result, print_validated
from rightsizing_cli.prices import prices_command
from rightsizing_cli.progress import ProgressPrinter
from rightsizing_cli.report import report_command
from rightsizing_cli.schedule import schedule_app
from rightsizing_local.backend import check_local_request

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)
console = make_console()
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"
INSTANCE_TYPE_FIELD = re.compile(r"candidates\.(\d+)\.instance_type")

EXIT_INVALID = ExitCode.INVALID
EXIT_NO_RECOMMENDATION = ExitCode.NO_RECOMMENDATION
EXIT_INTERRUPTED = ExitCode.INTERRUPTED


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from rightsizing import __version__

        try:
            installed = version("sagemaker-rightsizing")
        except PackageNotFoundError:  # run from a source tree without installing
            installed = __version__
        typer.echo(f"rightsize {installed}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Rightsize SageMaker real-time endpoints: exit codes are listed in docs/aws-stack.md."""


def _read_local(name: str) -> bytes | None:
    return None if name.startswith("s3://") else Path(name).read_bytes()


def load_request_file(path: Path) -> RightsizingRequest:
    """Read and validate a request file; payload files are resolved relative to it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RightsizingError(f"request file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RightsizingError(f"cannot read the request file {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise RightsizingError(f"{path} is not valid JSON: {e}") from None
    try:
        request = parse_request(document, base_dir=path.parent)
    except InvalidRequest as e:
        raise _with_instance_type_hints(e, document) from None
    # Every body this machine can read (files and archive beside the request; s3:// ones are checked by the plan
    # step and the dry run), against the content type: what the plan step will refuse, refused now.
    collect_bodies(request.payloads, _read_local)
    if request.is_local:
        check_local_request(request)  # the profiles and settings the local plan step refuses
    else:
        # botocore's region list and hosting instance types, offline: only for AWS requests (validate and start alike)
        from rightsizing.adapters.guard import check_instance_types, check_region

        check_region(request.region)
        check_instance_types(request)
    return request


def _with_instance_type_hints(error: InvalidRequest, document: Any) -> InvalidRequest:
    """An ml.* name the request model refuses by its shape (e.g. ml.m5.xlarg) gets the nearest SageMaker hosting
    types, from botocore's offline list (the model itself stays free of botocore)."""
    from rightsizing.adapters.guard import hosting_instance_types

    problems = []
    for field, text in error.problems:
        match = INSTANCE_TYPE_FIELD.fullmatch(field)
        value = _candidate_value(document, int(match.group(1))) if match else None
        if value is not None and value.startswith("ml."):
            text += did_you_mean(value, hosting_instance_types())
        problems.append((field, text))
    return InvalidRequest(*problems[0], *problems[1:])


def _candidate_value(document: Any, index: int) -> str | None:
    try:
        value = document["candidates"][index]["instance_type"]
    except (KeyError, IndexError, TypeError):
        return None
    return value if isinstance(value, str) else None


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Request JSON file.")],
    output: OutputOption = OutputFormat.text,
) -> None:
    """Check a request without running anything (offline: no AWS call, no credentials needed)."""
    out = Output(output)
    try:
        request = load_request_file(file)
    except RightsizingError as e:
        out.fail(str(e), ExitCode.INVALID)
    out.document({"valid": True, "name": request.name, "benchmarks": len(request.variants()), "region": request.region})
    if not out.is_json:
        print_validated(console, request)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Request JSON file (local.* candidates).")],
    directory: Annotated[Path, typer.Option("--dir", "-o", help="Folder for runs and artefacts.")] = Path(
        "rightsizing-runs"
    ),
    output: OutputOption = OutputFormat.text,
) -> None:
    """Run a rightsizing job on this machine: the real state machine, real model servers, real Locust load."""
    out = Output(output)
    try:
        from rightsizing_local.run import new_run_id, run_local
    except ImportError as e:
        out.fail(f"{LOCAL_EXTRA} ({e})", ExitCode.INVALID)
    try:
        request = load_request_file(file)
        parse_request(request.model_dump(mode="json"))  # the same check the plan step makes, before any server
    except RightsizingError as e:
        out.fail(str(e), ExitCode.INVALID)
    run_id = new_run_id(request.name)
    printer = ProgressPrinter(out.console, _candidate_labels(request, run_id), request.sla)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    out.console.print(
        f"[bold]Run {run_id}[/]: {printer.count} candidate(s), target {request.traffic} at {request.sla} (local mode)"
    )
    try:
        outcome = run_local(request, directory, progress=printer, run_id=run_id)
    except KeyboardInterrupt:
        out.fail("interrupted: every local model server and load generator was stopped", ExitCode.INTERRUPTED)
    except RightsizingError as e:
        out.fail(str(e), ExitCode.INVALID)
    for left in outcome.cleanup_incomplete:  # on AWS these would still be billing: say so, whatever the result
        out.console.print(f"[yellow]cleanup incomplete:[/] {escape(left)}", soft_wrap=True)
    if outcome.execution.status != "SUCCEEDED" or outcome.result is None:
        execution = outcome.execution
        code, message = execution_failure(execution.status, execution.error, execution.cause)
        out.fail(message, code, run_id=run_id)
    out.document({"run_id": run_id, "folder": outcome.run_dir, "result": outcome.result})
    if not out.is_json:
        print_result(console, outcome.result, outcome.run_dir)
    if outcome.result.recommendation is None:
        raise typer.Exit(ExitCode.NO_RECOMMENDATION)


@app.command()
def schema(
    write: Annotated[bool, typer.Option("--write", help=f"Write the schemas to {SCHEMA_DIR.name}/.")] = False,
) -> None:
    """Print (or write) the JSON Schemas of the request, the result and the events."""
    schemas = json_schemas()
    if not write:
        sys.stdout.write(json.dumps(schemas, indent=2) + "\n")
        return
    for name, document in schemas.items():
        path = SCHEMA_DIR / f"{name}.schema.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n")
        console.print(f"wrote {path}")


def json_schemas() -> dict[str, dict[str, Any]]:
    """Path under schema/ (without .schema.json) -> the schema; events/<event>.v<major> for each event."""
    return {
        "request": RightsizingRequest.model_json_schema(),
        "result": RunResult.model_json_schema(),
        **{f"events/{stem}": model.model_json_schema(by_alias=True) for stem, model in EVENT_MODELS.items()},
    }


def _candidate_labels(request: RightsizingRequest, run_id: str) -> dict[str, str]:
    """Endpoint name -> "candidate id (instance type)", named exactly as the plan step will name them."""
    labels = {}
    for index, (spec, env) in enumerate(request.variants(), start=1):
        labels[resource_name(run_id, index)] = candidate_id_for(index, spec.instance_type, env)
    return labels


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


app.command("start")(aws_runs.start)
app.command("watch")(aws_runs.watch)
app.command("status")(aws_runs.status)
app.command("report")(report_command)
app.command("cancel")(aws_runs.cancel)
app.command("list")(aws_runs.list_runs)
app.command("history")(history)
app.command("compare")(compare)
app.command("prices")(prices_command)
app.command("bench")(bench)
app.add_typer(image_app, name="image")
app.add_typer(schedule_app, name="schedule")


if __name__ == "__main__":
    app()
