"""Tables printed at the end of a run and after validation."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rightsizing.models.request import RightsizingRequest
from rightsizing.models.result import CandidateResult, RunResult
from rightsizing.report.cost import cost_summary
from rightsizing.report.tables import MEASURED_HEADERS, measured_cells
from rightsizing.report.trials import summary_line


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_result(console: Console, result: RunResult, run_dir: Path) -> None:
    table = Table(title=f"Candidates ({result.mode} mode, SLA {result.sla})")
    for column in ("candidate", "instance type", "status", *MEASURED_HEADERS, "test s"):
        left = column in {"candidate", "instance type", "status"}
        table.add_column(column, justify="left" if left else "right", no_wrap=column != "status")
    for c in result.candidates:
        table.add_row(
            escape(c.candidate_id),
            escape(c.instance_type),
            _status(c),
            *measured_cells(c),
            _num(c.test_seconds, 0),
        )
    console.print(table)
    for c in result.candidates:
        line = summary_line(c)
        if line is not None:
            console.print(f"  {escape(c.candidate_id)}: {escape(line)}")
    rec = result.recommendation
    if rec:
        at_least = "at least " if rec.lower_bound else ""
        console.print(
            f"[bold green]Recommendation:[/] {rec.instance_count} × {rec.instance_type} at ${rec.usd_per_hour:.4f}/h "
            f"serves {result.traffic} at {result.sla} "
            f"(capacity {at_least}{rec.capacity_rps:.1f} RPS, headroom {at_least}{rec.headroom_percent:.0f} %, "
            f"${rec.usd_per_million_inferences:.4f} per 1M inferences)"
        )
        if rec.lower_bound:
            console.print(
                "  [yellow]sized on a lower bound[/]: the test ended before it found the capacity, so fewer "
                "instances may do"
            )
        console.print(f"  why: {escape(rec.rationale)}")
        for alt in rec.alternatives:
            console.print(f"  not {escape(alt.candidate_id)} ({escape(alt.instance_type)}): {escape(alt.reason)}")
        console.print(f"  priced by: {escape(rec.price_source)}")
    else:
        console.print(f"[bold yellow]No recommendation:[/] {escape(str(result.no_recommendation_reason))}")
    _print_knee(console, result)
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    if result.cost is not None:
        console.print(f"[bold]Run cost:[/] {escape(cost_summary(result.cost))}")
    console.print(
        f"Artefacts: {escape(str(run_dir))} (report.html, result.json, results.csv, endpoint-snippet.yaml, "
        "candidates/*/)"
    )


def _print_knee(console: Console, result: RunResult) -> None:
    """The cheapest fleet at each other latency bound, against the SLA's answer: what a looser SLA saves."""
    knee = result.knee
    if knee is None or len(knee.choices) < 2:
        return
    at_sla = next((c for c in knee.choices if c.sla), None)
    console.print(f"At other latency bounds ({knee.percentile}; report.html has the knee curves):")
    for choice in knee.choices:
        if choice.sla:
            continue
        if choice.instance_count is None or choice.usd_per_hour is None:
            console.print(f"  ≤ {choice.milliseconds:g} ms: {escape(choice.note or 'no candidate can be sized')}")
            continue
        at_most = "at most" if choice.lower_bound else "at"
        versus = ""
        if at_sla is not None and at_sla.usd_per_hour is not None:
            delta = choice.usd_per_hour - at_sla.usd_per_hour
            same_fleet = (choice.instance_type, choice.instance_count) == (at_sla.instance_type, at_sla.instance_count)
            same = "same as at the SLA" if same_fleet else "same price as at the SLA"
            versus = f" ({same})" if abs(delta) < 1e-9 else f" ({delta:+.4f} $/h vs the SLA)"
        console.print(
            f"  ≤ {choice.milliseconds:g} ms: {choice.instance_count} × {escape(choice.instance_type or '')} "
            f"{at_most} ${choice.usd_per_hour:.4f}/h{versus}"
        )


def _status(c: CandidateResult) -> str:
    if c.status == "succeeded":
        return "succeeded"
    if c.lower_bound:
        return "[yellow]lower bound[/] (generator-limited)"
    if c.status == "skipped":
        return f"[yellow]skipped[/]: {escape(str(c.failure_reason))}"
    return f"[red]failed[/]: {escape(str(c.failure_reason))}"


def print_validated(console: Console, request: RightsizingRequest) -> None:
    count = len(request.variants())
    kind = "local profiles" if request.is_local else f"AWS instance types in {request.region}"
    console.print(
        f"[green]valid[/]: {count} benchmark(s) over {len(request.candidates)} {escape(kind)}; target "
        f"{request.traffic} at {request.sla}, "
        f"errors ≤ {100 * request.max_error_rate:g} %, load mode {request.load.mode}"
    )
