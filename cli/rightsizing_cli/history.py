"""``rightsize history MODEL`` and ``rightsize compare RUN_A RUN_B``: a model's recorded runs and what moved.

Local runs are recorded in ``<runs folder>/history.jsonl``, AWS runs in the stack's DynamoDB table (output
``HistoryTableName``). A ``local/…`` model key, or ``--dir``, reads the local file; ``compare`` looks both runs up
there first, then in the stack's table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from rightsizing.history import LOCAL_PREFIX, compare_runs
from rightsizing.models.history import RecommendationState, RunComparison, RunRecord
from rightsizing.ports import HistoryStore
from rightsizing_cli.aws_context import (
    AwsContext,
    ProfileOption,
    RegionOption,
    StackOption,
    aws_errors,
    open_context,
    opened_stack,
)
from rightsizing_cli.emit import Output, OutputFormat, OutputOption
from rightsizing_cli.exit_codes import ExitCode
from rightsizing_local.history import HISTORY_FILE, JsonLinesHistory

DEFAULT_DIR = Path("rightsizing-runs")
DirOption = Annotated[
    Path | None,
    typer.Option("--dir", "-o", help=f"Read the local history in this runs folder (default: {DEFAULT_DIR})."),
]


def _local(directory: Path | None) -> JsonLinesHistory:
    return JsonLinesHistory.in_folder(directory or DEFAULT_DIR)


def _stack_history(ctx: AwsContext) -> HistoryStore:
    from rightsizing.adapters.history_dynamodb import DynamoDbHistory

    return DynamoDbHistory(ctx.output("HistoryTableName"), ctx.client("dynamodb"))


def history(
    model: Annotated[str, typer.Argument(help="Model key, e.g. local/fraud-classifier or a model package group ARN.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")] = 20,
    directory: DirOption = None,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """A model's recorded runs, newest first: the answer, its cost and what the benchmark cost."""
    out = Output(output)
    ctx: AwsContext | None = None
    if directory is not None or model.startswith(LOCAL_PREFIX):
        store: HistoryStore = _local(directory)
        where = str(_local(directory).path)
    else:
        with aws_errors(out, lambda: ctx):
            ctx = open_context(profile, region, stack)
            store = _stack_history(ctx)
        where = f"stack {ctx.stack_name} ({ctx.region})"
    with aws_errors(out, lambda: ctx):
        records = store.latest(model, limit)
    out.document({"model_key": model, "source": where, "runs": records})
    if out.is_json:
        return
    if not records:
        out.console.print(f"no recorded runs of {escape(model)} in {escape(where)}")
        return
    table = Table(title=f"Runs of {escape(model)}, newest first ({escape(where)})")
    for column in ("run id", "finished", "recommendation", "$/h", "target", "request", "run cost"):
        table.add_column(column, no_wrap=column != "recommendation")
    for r in records:
        cost = f"${r.estimated_run_cost_usd:.2f} (est.)" if r.estimated_run_cost_usd is not None else "–"
        table.add_row(
            r.run_id,
            r.finished_at.strftime("%Y-%m-%d %H:%M"),
            _answer(r),
            f"{r.recommendation.usd_per_hour:.3f}" if r.recommendation else "–",
            f"{r.traffic} at {r.sla}",
            r.request_hash[:12],
            cost,
        )
    out.console.print(table)


def compare(
    run_a: Annotated[str, typer.Argument(help="The earlier run id.")],
    run_b: Annotated[str, typer.Argument(help="The later run id.")],
    directory: DirOption = None,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """What moved from run A to run B: the answer (type, count, $/h), each instance type's capacity and price."""
    out = Output(output)
    local = _local(directory)
    found = {run: local.get(run) for run in (run_a, run_b)}
    where = str(local.path)
    if directory is None and None in found.values():
        with opened_stack(out, profile, region, stack) as ctx:
            table = _stack_history(ctx)
            found = {run: record or table.get(run) for run, record in found.items()}
        where = f"{where} and stack {ctx.stack_name} ({ctx.region})"
    missing = [run for run, record in found.items() if record is None]
    if missing:
        hint = "" if directory else f" (pass --dir if they ran locally elsewhere; the local history is {HISTORY_FILE})"
        out.fail(f"not in the history of {where}: {', '.join(missing)}{hint}", ExitCode.INVALID)
    a, b = found[run_a], found[run_b]
    assert a is not None and b is not None
    comparison = compare_runs(a, b)
    out.document(comparison)
    if not out.is_json:
        _print_comparison(out, comparison)


def _answer(record: RunRecord) -> str:
    rec = record.recommendation
    if rec is None:
        return f"none: {record.no_recommendation_reason or 'no candidate met the target'}"
    return f"{rec.instance_count} x {rec.instance_type}"


def _state(state: RecommendationState) -> str:
    if state.instance_type is None:
        return "no recommendation"
    return f"{state.instance_count} x {state.instance_type} (${state.usd_per_hour:.3f}/h)"


def _num(value: object, fmt: str = "{:g}") -> str:
    return "–" if value is None else fmt.format(value)


def _pair(values: tuple[object, object], fmt: str = "{:g}") -> str:
    a, b = values
    return _num(a, fmt) if a == b else f"{_num(a, fmt)} → {_num(b, fmt)}"


def _change(percent: float | None) -> str:
    return "" if not percent else f" ({percent:+.1f} %)"


def _print_comparison(out: Output, c: RunComparison) -> None:
    console = out.console
    if not c.same_model:
        console.print(f"[yellow]note:[/] different models: {escape(c.model_keys[0])} and {escape(c.model_keys[1])}")
    if c.request_changed:
        console.print("[yellow]note:[/] the requests differ (target, candidates or settings)")
    moved = ", ".join(c.changed) if c.changed else "unchanged"
    console.print(f"[bold]{escape(c.run_a.run_id)}[/] → [bold]{escape(c.run_b.run_id)}[/]: {moved}")
    console.print(f"  answer: {_state(c.run_a)} → {_state(c.run_b)}{_change(c.cost_change_percent)}")
    table = Table(title="Per instance type")
    for column in ("instance type", "status", "RPS per instance", "instances for target", "$/h per instance",
                   "$/h for target"):  # fmt: skip
        table.add_column(column, no_wrap=True)
    for row in c.candidates:
        environment = ";".join(f"{k}={v}" for k, v in sorted(row.environment.items()))
        table.add_row(
            row.instance_type + (f" [{escape(environment)}]" if environment else ""),
            _pair(row.status, "{}"),
            _pair(row.sustainable_rps, "{:.1f}") + _change(row.sustainable_rps_change_percent),
            _pair(row.instances_for_target),
            _pair(row.usd_per_hour_per_instance, "{:.4f}") + _change(row.price_change_percent),
            _pair(row.usd_per_hour_for_target, "{:.3f}"),
        )
    console.print(table)
