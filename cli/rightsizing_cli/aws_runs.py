"""Runs on the deployed stack: ``start``, ``status``, ``watch``, ``cancel`` and ``list`` (``report`` is in report.py).

RUN is a run id (the execution name) or a full execution ARN.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from rightsizing.adapters import stepfunctions as sfn
from rightsizing.exceptions import RightsizingError
from rightsizing.models.request import RightsizingRequest
from rightsizing.models.targets import LatencySla
from rightsizing_cli.aws_context import (
    AwsContext,
    AwsSetupError,
    ProfileOption,
    RegionOption,
    StackOption,
    opened_stack,
)
from rightsizing_cli.emit import Output, OutputFormat, OutputOption
from rightsizing_cli.exit_codes import ExitCode, execution_failure, lambda_error_message
from rightsizing_cli.progress import ProgressPrinter
from rightsizing_cli.run_history import RunHistory, stage_name
from rightsizing_cli.run_names import (
    check_run_name,
    console_url,
    default_run_name,
    execution_input,
    run_id_of,
)

RunArgument = Annotated[str, typer.Argument(help="Run id (the execution name) or execution ARN.", metavar="RUN")]
MAX_CLEANUP_DESCRIBES = 50  # how many recent cleanup executions `status` inspects for the run's id
CANCEL_ERROR = "RunCancelled"


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"


def start(
    file: Annotated[Path, typer.Argument(help="Request JSON file (AWS instance types).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Run id to use instead of <request name>-<digest of the request>.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the request against the account and estimate cost and duration.")
    ] = False,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Start a rightsizing run on the deployed stack (or, with --dry-run, check and estimate it)."""
    from rightsizing_cli.main import load_request_file  # the very checks `validate` makes

    out = Output(output)
    try:
        request = load_request_file(file)
    except RightsizingError as e:
        out.fail(str(e), ExitCode.INVALID)
    if request.is_local:
        out.fail(f"{file} benchmarks local profiles: run it on this machine with rightsize run {file}")
    with opened_stack(out, profile, region, stack, fallback_region=request.region) as ctx:
        if request.region != ctx.region:
            out.fail(
                f"the request's region is {request.region} but the stack is used in {ctx.region}: the state machine "
                "creates endpoints in its own region (set region in the request, or pass --region)"
            )
        try:
            input_json = execution_input(request)
            run_id = check_run_name(name) if name else default_run_name(request, input_json)
        except RightsizingError as e:
            out.fail(str(e), ExitCode.INVALID)
        if dry_run:
            _dry_run(out, request, ctx, run_id)
            return
        _start(out, ctx, request, run_id, input_json)


def _start(out: Output, ctx: AwsContext, request: RightsizingRequest, run_id: str, input_json: str) -> None:
    client = ctx.client("stepfunctions")
    machine = ctx.output("StateMachineArn")
    # Asked first so the answer is exact: an execution of this name may be running (same request: say so, start
    # nothing) or finished (names stay taken for 90 days). StartExecution is idempotent too, for a race.
    existing = _existing(client, sfn.execution_arn(machine, run_id))
    if existing is None:
        try:
            started = sfn.start_execution(client, machine, run_id, input_json)
        except sfn.ExecutionExists as e:
            existing = sfn.describe_execution(client, e.execution_arn)
    already = existing is not None
    if existing is not None:
        if existing["status"] != "RUNNING" or existing.get("input") != input_json:
            _refuse_existing(out, ctx, run_id, existing)
        started = sfn.Started(existing["executionArn"], existing["startDate"])
    url = console_url(started.execution_arn)
    out.document(
        {
            "run_id": run_id,
            "execution_arn": started.execution_arn,
            "start_date": started.start_date,
            "already_running": already,
            "console_url": url,
            "region": ctx.region,
            "stack": ctx.stack_name,
        }
    )
    count = len(request.variants())
    if already:
        out.console.print(
            f"[yellow]Run {run_id} was already running[/] (started {_when(started.start_date)}): "
            "the same request is not started twice."
        )
    else:
        out.console.print(
            f"[bold]Started run {run_id}[/]: {count} benchmark(s) in {ctx.region} (stack {ctx.stack_name})"
        )
    flags = ctx_flags(ctx)
    out.console.print(f"  console: {url}", soft_wrap=True)  # a URL must stay one line to be clicked
    out.console.print(f"  follow:  rightsize watch {run_id}{escape(flags)}")
    out.console.print(f"  state:   rightsize status {run_id}{escape(flags)}")
    out.console.print(f"  result:  rightsize report {run_id}{escape(flags)}   (once it has finished)")
    out.console.print(f"  stop:    rightsize cancel {run_id}{escape(flags)}")


def _existing(client: Any, arn: str) -> dict[str, Any] | None:
    try:
        return sfn.describe_execution(client, arn)
    except sfn.ExecutionNotFound:
        return None


def _refuse_existing(out: Output, ctx: AwsContext, run_id: str, existing: dict[str, Any]) -> NoReturn:
    status = existing["status"]
    if status == "RUNNING":
        why = f"run {run_id} is running with a different request: pass another --name"
    else:
        why = (
            f"run {run_id} already ran ({status}, started {_when(existing['startDate'])}): see rightsize status "
            f"{run_id}{ctx.flags}; to run the same request again, pass --name with a new run id"
        )
    out.fail(why, ExitCode.ALREADY_EXISTS, run_id=run_id, execution_arn=existing["executionArn"], status=status)


def _dry_run(out: Output, request: RightsizingRequest, ctx: AwsContext, run_id: str) -> None:
    """The preflight checks and the cost/duration estimate (rightsizing_cli.dry_run); nothing is created."""
    try:
        module = importlib.import_module("rightsizing_cli.dry_run")
    except ImportError:
        out.fail("dry run not available in this version of rightsize", ExitCode.FAILED)
    report = module.dry_run(request, ctx.session, ctx.region)
    out.document({"run_id": run_id, "region": ctx.region, "dry_run": report})
    if not out.is_json:
        module.print_dry_run(out.console, report)
    out.console.print(f"Would start run [bold]{run_id}[/] in {ctx.region}; nothing was created.")
    if not getattr(report, "ok", True):
        raise typer.Exit(int(ExitCode.FAILED))


def status(
    run: RunArgument,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """A run's state: the execution, each candidate's stage, the result, and the cleanup that followed."""
    out = Output(output)
    with opened_run(out, run, profile, region, stack) as opened:
        progress = RunHistory()
        progress.feed(sfn.history(opened.client, opened.arn))
        cleanup = cleanup_executions(opened.ctx, opened.run_id, opened.description["startDate"])
        document = status_document(opened.description, progress, cleanup)
    out.document(document)
    if not out.is_json:
        print_status(out, document, ctx_flags(opened.ctx))


def watch(
    run: RunArgument,
    interval: Annotated[float, typer.Option("--interval", min=0, help="Seconds between history polls.")] = 10,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Follow a run's progress, candidate by candidate, until it ends; the exit code says how it ended."""
    out = Output(output)
    with opened_run(out, run, profile, region, stack) as opened:
        ctx, arn, client, description = opened.ctx, opened.arn, opened.client, opened.description
        printer = ProgressPrinter(out.console, {}, _sla_of(description))
        progress = RunHistory()
        out.console.print(
            f"[bold]Run {run_id_of(arn)}[/] ({description['status']}); Ctrl-C stops watching, not the run"
        )
        try:
            _follow(client, arn, progress, printer, interval)
        except KeyboardInterrupt:
            out.fail(
                f"stopped watching; the run goes on (rightsize cancel {run_id_of(arn)} stops it)",
                ExitCode.INTERRUPTED,
            )
        description = sfn.describe_execution(client, arn)
        cleanup = cleanup_executions(ctx, run_id_of(arn), description["startDate"])
        document = status_document(description, progress, cleanup)
    out.document(document)
    if not out.is_json:
        _print_ending(out, document, ctx_flags(ctx))
    raise typer.Exit(int(outcome_code(document)))


def _follow(client: Any, arn: str, progress: RunHistory, printer: ProgressPrinter, interval: float) -> None:
    for line in progress.feed(sfn.history(client, arn)):
        printer(line.key, line.stage, line.detail, elapsed=line.elapsed)
    while not progress.finished:
        time.sleep(interval)
        lines = progress.feed(sfn.events_after(client, arn, progress.last_id))
        for line in lines:
            printer(line.key, line.stage, line.detail, elapsed=line.elapsed)
        if not lines and sfn.describe_execution(client, arn)["status"] != "RUNNING":
            return  # ended without an event we know (e.g. waiting for a redrive)


def cancel(
    run: RunArgument,
    reason: Annotated[str, typer.Option("--reason", help="Recorded as the execution's cause.")] = "",
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Stop a run. What it created is still deleted: the stack's cleanup state machine sweeps an aborted run."""
    out = Output(output)
    with opened_run(out, run, profile, region, stack) as opened:
        ctx, arn, client, description, run_id = opened.ctx, opened.arn, opened.client, opened.description, opened.run_id
        if description["status"] != "RUNNING":
            out.document({"run_id": run_id, "execution_arn": arn, "cancelled": False, "status": description["status"]})
            out.console.print(f"Run {run_id} already ended ({description['status']}): nothing to cancel.")
            return
        cause = "cancelled with rightsize cancel" + (f": {reason}" if reason else "")
        stopped = sfn.stop_execution(client, arn, CANCEL_ERROR, cause[:32768])
    flags = ctx_flags(ctx)
    out.document({"run_id": run_id, "execution_arn": arn, "cancelled": True, "status": "ABORTED", "stop_date": stopped})
    out.console.print(f"[bold]Cancelled run {run_id}[/] at {_when(stopped)}.")
    out.console.print(
        "  Step Functions stops its running load-test tasks; the stack's RunStoppedRule starts the cleanup state "
        "machine, which deletes the endpoints, endpoint configs and models the run created (found by their "
        "rightsizing:run-id tag), retrying every 5 minutes while one is still being created."
    )
    out.console.print(f"  rightsize status {run_id}{escape(flags)} shows that cleanup once it has started.")


def list_runs(
    status_filter: Annotated[RunStatus | None, typer.Option("--status", help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")] = 20,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """The stack's runs, newest first."""
    out = Output(output)
    with opened_stack(out, profile, region, stack) as ctx:
        machine = ctx.output("StateMachineArn")
        executions = sfn.list_executions(
            ctx.client("stepfunctions"), machine, status_filter.value if status_filter else None, limit
        )
    runs = [
        {
            "run_id": e["name"],
            "status": e["status"],
            "start_date": e["startDate"],
            "stop_date": e.get("stopDate"),
            "execution_arn": e["executionArn"],
        }
        for e in executions
    ]
    out.document({"stack": ctx.stack_name, "region": ctx.region, "runs": runs})
    if out.is_json:
        return
    table = Table(title=f"Runs of stack {ctx.stack_name} ({ctx.region}), newest first")
    for column in ("run id", "status", "started", "took"):
        table.add_column(column, no_wrap=True)
    for item in runs:
        table.add_row(item["run_id"], _status_markup(item["status"]), _when(item["start_date"]), _took(item))
    out.console.print(table if runs else "no runs yet")


# --- shared by the commands ---


@dataclass(frozen=True)
class OpenedRun:
    ctx: AwsContext
    arn: str
    client: Any  # the Step Functions client
    description: dict[str, Any]  # DescribeExecution

    @property
    def run_id(self) -> str:
        return run_id_of(self.arn)


@contextmanager
def opened_run(
    out: Output, run: str, profile: str | None, region: str | None, stack: str | None
) -> Iterator[OpenedRun]:
    """RUN's execution on the stack, described; inside ``aws_errors``, so failures are one line and an exit code."""
    with opened_stack(out, profile, region, stack) as ctx:
        arn = execution_ref(ctx, run)
        client = ctx.client("stepfunctions")
        yield OpenedRun(ctx, arn, client, sfn.describe_execution(client, arn))


def execution_ref(ctx: AwsContext, run: str) -> str:
    """RUN as an execution ARN: an ARN as given, a run id under the stack's state machine."""
    if run.startswith("arn:"):
        if ":execution:" not in run:
            raise AwsSetupError(f"{run} is not an execution ARN (arn:aws:states:<region>:<account>:execution:...)")
        return run
    return sfn.execution_arn(ctx.output("StateMachineArn"), check_run_name(run, "RUN"))


def cleanup_executions(ctx: AwsContext, run_id: str, since: datetime) -> list[dict[str, Any]]:
    """Executions of the stack's cleanup state machine for this run, newest first: started by RunStoppedRule (the
    run failed, timed out or was cancelled) or by a candidate whose endpoint refused deletion. Their names are
    generated, so each recent one is described and matched by the run id in its input."""
    client = ctx.client("stepfunctions")
    machine = ctx.output("CleanupStateMachineArn")
    found: list[dict[str, Any]] = []
    described = 0
    for page in sfn.iter_execution_pages(client, machine, page_size=50):
        for item in page:
            if item["startDate"] < since or described >= MAX_CLEANUP_DESCRIBES:
                return found
            description = sfn.describe_execution(client, item["executionArn"])
            described += 1
            target = _json_object(description.get("input"))
            if target.get("run_id") == run_id:
                found.append(
                    {
                        "execution_arn": item["executionArn"],
                        "status": description["status"],
                        "candidate_id": target.get("candidate_id"),
                        "start_date": description["startDate"],
                        "stop_date": description.get("stopDate"),
                        "error": description.get("error"),
                    }
                )
    return found


def status_document(description: dict[str, Any], progress: RunHistory, cleanup: list[dict[str, Any]]) -> dict[str, Any]:
    arn = description["executionArn"]
    return {
        "run_id": run_id_of(arn),
        "execution_arn": arn,
        "status": description["status"],
        "start_date": description["startDate"],
        "stop_date": description.get("stopDate"),
        "error": description.get("error"),
        "cause": description.get("cause"),
        "summary": _json_object(description.get("output")) or None,
        "candidates": [{**c.as_dict(), "stage": stage_name(c.stage)} for c in progress.candidates.values()],
        "cleanup": cleanup,
        "console_url": console_url(arn),
    }


def outcome_code(document: dict[str, Any]) -> ExitCode:
    if document["status"] != "SUCCEEDED":
        return execution_failure(document["status"], document["error"], document["cause"])[0]
    summary = document.get("summary") or {}
    return ExitCode.OK if summary.get("recommended") else ExitCode.NO_RECOMMENDATION


def print_status(out: Output, document: dict[str, Any], flags: str) -> None:
    console = out.console
    console.print(
        f"[bold]Run {document['run_id']}[/]: {_status_markup(document['status'])} "
        f"(started {_when(document['start_date'])}, {_took(document)})"
    )
    if document["error"] or document["cause"]:
        console.print(f"  {escape(str(document['error'] or ''))}: {escape(lambda_error_message(document['cause']))}")
    if document["candidates"]:
        table = Table(title="Candidates")
        for column in ("candidate", "instance type", "stage", "detail"):
            table.add_column(column, no_wrap=column != "detail")
        for c in document["candidates"]:
            detail = c["failure"] or _measured(c)
            if c["stage"] in {"measured", "failed"} and not (c["deleted"] or c["existing_endpoint"]):
                detail += " (endpoint not deleted: handed to the cleanup state machine)"
            table.add_row(c["candidate_id"], c["instance_type"], c["stage"], escape(detail or c["detail"]))
        console.print(table)
    _print_ending(out, document, flags)
    console.print(f"  console: {document['console_url']}", soft_wrap=True)


def _print_ending(out: Output, document: dict[str, Any], flags: str) -> None:
    console, run_id = out.console, document["run_id"]
    summary = document.get("summary") or {}
    if document["status"] == "SUCCEEDED":
        word = "[bold green]Recommendation:[/]" if summary.get("recommended") else "[bold yellow]No recommendation:[/]"
        console.print(f"{word} {escape(str(summary.get('message', '')))}")
        if summary.get("measured_cost_usd") is not None:
            console.print(f"  run cost: {escape(_run_cost(summary))}")
        console.print(f"  report: rightsize report {run_id}{escape(flags)}")
    elif document["status"] == "RUNNING":
        console.print(f"  follow: rightsize watch {run_id}{escape(flags)}")
    for sweep in document["cleanup"]:
        whose = f"candidate {sweep['candidate_id']}" if sweep.get("candidate_id") else "the run"
        console.print(
            f"  cleanup of {whose}: {_status_markup(sweep['status'])} (started {_when(sweep['start_date'])})"
            + (f" {escape(str(sweep['error']))}" if sweep.get("error") else "")
        )
    if document["status"] in {"FAILED", "TIMED_OUT", "ABORTED"} and not document["cleanup"]:
        console.print("  cleanup: not started yet (the stack's RunStoppedRule starts it within a minute or so)")


def _run_cost(summary: dict[str, Any]) -> str:
    """The run summary's measured cost beside its estimate (result.json ``cost`` has the breakdown)."""
    text = f"${summary['measured_cost_usd']:,.4f} measured"
    if summary.get("estimated_cost_usd") is not None:
        text += f" (estimate ${summary['estimated_cost_usd']:,.4f})"
    return text + (", notional local prices: not an AWS bill" if summary.get("cost_notional") else "")


def ctx_flags(ctx: AwsContext | None) -> str:
    return ctx.flags if ctx else ""


def _sla_of(description: dict[str, Any]) -> LatencySla:
    sla = _json_object(description.get("input")).get("sla")
    try:
        return LatencySla.model_validate(sla)
    except ValueError:
        return LatencySla.parse("p95:100ms")  # only probe lines use it, and the history has none


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _measured(candidate: dict[str, Any]) -> str:
    rps = candidate["sustainable_rps"]
    if not rps:
        return ""
    if candidate.get("lower_bound"):
        return f"at least {rps:.1f} RPS within SLA (a lower bound)"
    return f"{rps:.1f} RPS within SLA"


def _status_markup(status: str) -> str:
    colour = {"SUCCEEDED": "green", "RUNNING": "cyan", "ABORTED": "yellow"}.get(status, "red")
    return f"[{colour}]{status}[/]"


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _took(item: dict[str, Any]) -> str:
    end = item.get("stop_date") or datetime.now(UTC)
    seconds = int((end - item["start_date"]).total_seconds())
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    text = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds % 60:02d}s"
    return text if item.get("stop_date") else f"running for {text}"
