"""The report's serverless section: each serverless candidate's cold start and its cost at the target rate."""

from __future__ import annotations

from html import escape

from rightsizing.models.result import RunResult
from rightsizing.models.serverless import ServerlessSizing, parse_serverless_label


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def serverless_section(run: RunResult) -> str:
    """A table per serverless candidate, or '' when the run has none."""
    rec = run.recommendation
    priced: dict[str, ServerlessSizing] = {}
    if rec is not None:
        priced.update({a.candidate_id: a.serverless for a in rec.alternatives if a.serverless})
        if rec.serverless:
            priced[rec.candidate_id] = rec.serverless
    rows = []
    for c in run.candidates:
        label = parse_serverless_label(c.instance_type)
        if label is None:
            continue
        cold = c.cold_start
        cost = priced.get(c.candidate_id)
        cells = [
            escape(c.candidate_id),
            f"{label.memory_mb} MB",
            str(label.max_concurrency),
            _ms(cold.first_ms if cold else None),
            _ms(cold.warm_ms if cold else None),
            _ms(cold.penalty_ms if cold else None),
            "—" if cost is None else f"{cost.concurrency_needed:.2f}",
            "—" if cost is None else f"${cost.compute_usd_per_hour + cost.data_usd_per_hour:,.4f}",
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    if not rows:
        return ""
    headers = [
        "candidate",
        "memory",
        "max concurrency",
        "cold start ms",
        "warm ms",
        "cold-start penalty ms",
        "in flight at target",
        "$/h at target",
    ]
    head = "".join(f"<th>{h}</th>" for h in headers)
    return (
        "<h2>Serverless</h2><p>Billed per use: target RPS × seconds per request (median latency at the SLA rate) × "
        "memory GB × $/GB-s × 3600, plus request bytes processed. The cold start is the first request after "
        "deployment, measured before the search and not part of the SLA verdict; it recurs after the endpoint "
        f'has been idle.</p><table class="serverless" id="serverless"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )
