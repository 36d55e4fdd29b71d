"""``rightsize report RUN``: a run's report on this machine.

RUN as a run id or execution ARN: download result.json, results.csv, report.html and endpoint-snippet.yaml from
s3://<ResultsBucket>/runs/<run id>/ of the deployed stack. RUN as a folder, ``file://`` or ``s3://`` URI: regenerate
report.html and endpoint-snippet.yaml from the run's result.json and traces.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rightsizing.exceptions import RightsizingError
from rightsizing.models.result import RunResult
from rightsizing.store import LocalStore, get_json, join_uri, local_uri
from rightsizing_cli.aws_context import AwsContext, ProfileOption, RegionOption, StackOption, aws_errors, open_context
from rightsizing_cli.emit import Output, OutputFormat, OutputOption
from rightsizing_cli.exit_codes import ExitCode
from rightsizing_cli.output import print_result
from rightsizing_cli.run_names import check_run_name, run_id_of

DEFAULT_DIR = Path("rightsizing-runs") / "runs"  # where local runs write theirs: one layout for both


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


def is_stored_run(location: str) -> bool:
    """A folder or URI (regenerate), as opposed to a run id or execution ARN on the stack (download)."""
    return location.startswith(("s3://", "file://")) or Path(location).exists()


def report_command(
    run: Annotated[
        str,
        typer.Argument(
            help="Run id or execution ARN (download from the stack), or a run folder / s3:// URI (regenerate).",
            metavar="RUN",
        ),
    ],
    directory: Annotated[
        Path | None, typer.Option("--dir", help=f"Download into DIR/<run id> (default {DEFAULT_DIR}/<run id>).")
    ] = None,
    open_report: Annotated[bool, typer.Option("--open", help="Open report.html in the browser.")] = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """A run's report: download it from the stack's bucket, or regenerate it from a run folder; print its path."""
    out = Output(output)
    if is_stored_run(run):
        report = _regenerate(out, run, profile, region)
    else:
        report = _download(out, run, directory, stack, profile, region)
    if open_report and report.startswith(("file://", "/")):
        webbrowser.open(Path(LocalStore.path_of(report) if report.startswith("file://") else report).as_uri())


def _regenerate(out: Output, run: str, profile: str | None, region: str | None) -> str:
    from rightsizing.adapters.s3 import UriStore
    from rightsizing.report.publish import publish_report

    ctx: AwsContext | None = None
    with aws_errors(out, lambda: ctx):
        s3 = None
        if run.startswith("s3://"):
            ctx = open_context(profile, region, None, fallback_region="us-east-1")
            s3 = ctx.client("s3")
        try:
            run_uri = run_uri_of(run)
            store = UriStore(s3)
            result = RunResult.model_validate(get_json(join_uri(run_uri, "result.json"), store))
            written = publish_report(result, run_uri, store)
        except RightsizingError as e:
            out.fail(str(e), ExitCode.INVALID)
    report = written["report"]
    shown = str(LocalStore.path_of(report)) if report.startswith("file://") else report
    out.document({"report": shown, "snippet": written["snippet"]})
    if not out.is_json:
        print(shown)  # alone on stdout: `open "$(rightsize report DIR)"`
    return report


def _download(
    out: Output, run: str, directory: Path | None, stack: str | None, profile: str | None, region: str | None
) -> str:
    if "/" in run and not run.startswith("arn:"):
        out.fail(f"no run folder at {run}")
    ctx: AwsContext | None = None
    with aws_errors(out, lambda: ctx):
        run_id = run_id_of(run) if run.startswith("arn:") else check_run_name(run, "RUN")
        ctx = open_context(profile, region, stack)
        bucket = ctx.output("ResultsBucketName")
        files = download_run(ctx.client("s3"), bucket, run_id, (directory or DEFAULT_DIR) / run_id, out)
    folder = (directory or DEFAULT_DIR) / run_id
    result = RunResult.model_validate_json(files["result.json"].read_bytes())
    report = files.get("report.html")
    out.document(
        {
            "run_id": run_id,
            "folder": folder.resolve(),
            "files": {name: path.resolve() for name, path in files.items()},
            "report": report.resolve() if report else None,
            "recommendation": result.recommendation,
        }
    )
    if not out.is_json:
        print_result(out.console, result, folder)
        out.console.print(f"Report: {escape(str(report.resolve())) if report else '(none written)'}")
    return str(report.resolve()) if report else ""


def download_run(s3: Any, bucket: str, run_id: str, folder: Path, out: Output) -> dict[str, Path]:
    """result.json, then every artefact it lists under the run's prefix; name -> local path."""
    from botocore.exceptions import ClientError

    prefix = f"runs/{run_id}/"
    try:
        body = s3.get_object(Bucket=bucket, Key=prefix + "result.json")["Body"].read()
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            out.fail(
                f"no result for run {run_id} in s3://{bucket}/{prefix}: it has not finished, or it failed before "
                f"recommending (rightsize status {run_id})",
                ExitCode.FAILED,
            )
        raise
    folder.mkdir(parents=True, exist_ok=True)
    files = {"result.json": folder / "result.json"}
    files["result.json"].write_bytes(body)
    result = RunResult.model_validate_json(body)
    for uri in result.artifacts.values():
        key = uri.removeprefix(f"s3://{bucket}/")
        name = key.removeprefix(prefix)
        if key == uri or name == key or "/" in name or name in files:
            continue  # not a file of this run's folder (or result.json itself)
        files[name] = folder / name
        files[name].write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return files
