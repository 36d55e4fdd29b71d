"""The dry run of a run on AWS: every preflight check, then what the run will cost and how long it will take.

Nothing is created. Without credentials the offline checks still run, each online one says "not checked" and why,
and the estimate uses the bundled price snapshot and the template's default task size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rightsizing.adapters.aws_backend import AWS_METRICS_DELAY_SECONDS, AWS_POLL_SECONDS
from rightsizing.adapters.preflight import Check, all_not_checked, failed, not_checked, offline_checks, ok
from rightsizing.adapters.preflight_account import DEFAULT_STACK_NAME, AwsPreflight, StackSettings, session_clients
from rightsizing.estimate import allocate_budget, estimate_run
from rightsizing.history_budget import HISTORY_EVENT_BUDGET
from rightsizing.models.estimate import SCENARIOS, Figures, RunEstimate
from rightsizing.models.request import RightsizingRequest
from rightsizing.ports import PriceSource
from rightsizing.pricing.snapshot import SnapshotPrices

if TYPE_CHECKING:
    import boto3

TEMPLATE_MAX_PARALLEL_CANDIDATES = 4  # template.yaml MaxParallelCandidates default, when the stack is unknown
NO_CREDENTIALS = (
    "no AWS credentials found (NoCredentialsError): configure them (aws configure, aws sso login) or pass --profile"
)
SYMBOLS = {"ok": "[green]✓[/]", "failed": "[red]✗[/]", "not checked": "[yellow]–[/]"}


class DryRunReport(BaseModel):
    region: str
    stack: str
    checks: list[Check]
    estimate: RunEstimate
    ok: bool  # no check failed ("not checked" ones are listed, and do not count as failures)


def dry_run(
    request: RightsizingRequest, session: boto3.Session | None, region: str, *, stack: str | None = None
) -> DryRunReport:
    """Preflight and estimate for ``request`` on the stack ``stack`` (samconfig.toml's name by default)."""
    stack_name = stack or DEFAULT_STACK_NAME
    checks = offline_checks(request, region)
    settings: StackSettings | None = None
    prices: PriceSource = SnapshotPrices()
    reason = _why_offline(session)
    if reason is not None:
        checks += all_not_checked(request, reason)
    else:
        from rightsizing.adapters.pricing_api import price_list_with_fallback

        clients = session_clients(session, region)
        online, settings = AwsPreflight(clients, region, stack_name).run(request)
        checks += online
        if online[0].status == "ok":  # the credentials work: ask the Price List API (the snapshot if it cannot)
            prices = price_list_with_fallback(client=clients("pricing"))
    estimate = estimate_run(
        request,
        prices,
        default_poll_seconds=AWS_POLL_SECONDS,
        history_event_budget=HISTORY_EVENT_BUDGET,
        metrics_delay_seconds=AWS_METRICS_DELAY_SECONDS,
        max_parallel_candidates=settings.max_parallel_candidates if settings else TEMPLATE_MAX_PARALLEL_CANDIDATES,
        task=settings.load_test_task if settings else None,
    )
    if settings is None:
        estimate.notes.append(
            f"stack unknown: assumed the template's defaults (load-test task {estimate.load_test_task.cpu_units} CPU "
            f"/ {estimate.load_test_task.memory_mib} MiB, at most {TEMPLATE_MAX_PARALLEL_CANDIDATES} endpoints at once)"
        )
    checks.append(_prices_check(request, estimate))
    if request.budget_usd is not None:
        checks.append(_budget_check(request.budget_usd, estimate))
    return DryRunReport(
        region=region,
        stack=stack_name,
        checks=checks,
        estimate=estimate,
        ok=not any(check.status == "failed" for check in checks),
    )


def _why_offline(session: Any) -> str | None:
    if session is None:
        return "no AWS session"
    try:
        credentials = session.get_credentials()
    except Exception as e:  # botocore raises a variety of configuration errors here (a broken profile, SSO)
        return f"credentials unusable ({type(e).__name__}: {e})"
    return None if credentials is not None else NO_CREDENTIALS


def _prices_check(request: RightsizingRequest, estimate: RunEstimate) -> Check:
    if estimate.complete:
        sources = sorted({c.price_source for c in estimate.candidates if c.price_source})
        return ok("prices", "; ".join(sources) or "nothing to price (existing endpoints only)")
    detail = "; ".join(estimate.notes)
    if request.budget_usd is not None:  # the plan step's budget check refuses what it cannot price
        return failed("prices", f"{detail}; the plan step refuses a budget it cannot check")
    return not_checked("prices", detail)


def _budget_check(budget: float, estimate: RunEstimate) -> Check:
    """What the plan step will do: commit each candidate's worst-case endpoint cost in order, skip those that would
    pass the budget, refuse the run if none fits."""
    shares = allocate_budget(estimate, budget)
    skipped = [share.candidate_id for share in shares if share.skip_reason]
    worst = estimate.endpoint_usd.worst
    detail = f"endpoints' worst case ${worst:.2f} (what the plan step checks) against budget_usd ${budget:.2f}"
    if len(skipped) == len(shares):
        return failed("budget", f"{detail}: no candidate fits, the plan step would refuse the run; lower limits")
    if skipped:
        committed = max(share.committed_usd for share in shares if not share.skip_reason)
        return ok(
            "budget",
            f"{detail}: the plan step would skip {len(skipped)} of {len(shares)} candidate(s) ({', '.join(skipped)}), "
            f"keeping the run's worst case at ${committed:.2f}",
        )
    return ok("budget", f"{detail}; everything, worst case: ${estimate.total_usd.worst:.2f}")


def print_dry_run(console: Console, report: DryRunReport) -> None:
    checks = Table(title=f"Preflight: stack {report.stack} in {report.region}", show_header=False, box=None)
    for column in ("", "check", "detail"):
        checks.add_column(column, overflow="fold")
    for check in report.checks:
        checks.add_row(SYMBOLS[check.status], check.name, escape(check.detail))
    console.print(checks)

    estimate = report.estimate
    task = estimate.load_test_task
    console.print(
        f"\n[bold]Estimate[/]: {estimate.benchmarks} benchmark(s), {estimate.max_concurrency} at a time, endpoint "
        f"status polled every {estimate.poll_seconds} s; load-test task {task.vcpu:g} vCPU / {task.gb:g} GB "
        f"({escape(task.source)})"
    )
    costs = Table()
    for column in ("", "quantity", "low", "typical", "worst"):
        costs.add_column(column, justify="right" if column in {"low", "typical", "worst"} else "left")
    for line in estimate.costs:
        costs.add_row(line.item, escape(line.quantity), *_usd(line.usd))
    costs.add_section()
    total = "total" if estimate.complete else "total (without unpriced types)"
    costs.add_row(f"[bold]{total}[/]", "", *_usd(estimate.total_usd))
    costs.add_row("[bold]duration[/]", "", *(_duration(estimate.duration_seconds.get(s)) for s in SCENARIOS))
    console.print(costs)
    console.print("[dim]Assumes: " + escape("; ".join(estimate.assumptions)) + ".[/]")
    for note in estimate.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    failures = sum(check.status == "failed" for check in report.checks)
    unchecked = sum(check.status == "not checked" for check in report.checks)
    later = f"; {unchecked} could not be checked (–)" if unchecked else ""
    if report.ok:
        console.print(f"[green]ready[/]: no check failed{later}")
    else:
        console.print(f"[red]not ready[/]: {failures} check(s) failed{later}; nothing was created")


def _usd(figures: Figures) -> list[str]:
    return [f"${usd:,.2f}" if usd >= 0.005 or usd == 0 else "< $0.01" for usd in map(figures.get, SCENARIOS)]


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
