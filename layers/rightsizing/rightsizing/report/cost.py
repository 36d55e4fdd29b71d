"""What the run cost, measured, beside the dry run's estimate: one line for consoles, a short table for the report."""

from __future__ import annotations

from html import escape

from rightsizing.models.cost import RunCost


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}"


def cost_summary(cost: RunCost) -> str:
    """``$0.0058 measured (estimate $0.0071, $0.0040-$0.0300)``, saying when it is notional or incomplete."""
    text = f"{_usd(cost.measured_usd)} measured"
    if cost.estimated_usd is not None:
        figures = cost.estimated_usd
        text += f" (estimate {_usd(figures.typical)}, {_usd(figures.low)}-{_usd(figures.worst)})"
    if cost.notional:
        text += ", notional local prices: not an AWS bill"
    if not cost.complete:
        text += "; incomplete: " + "; ".join(cost.notes)
    return text


def cost_section(cost: RunCost | None) -> str:
    """The report's cost table: per kind, then per candidate."""
    if cost is None:
        return '<p id="cost-missing">This run did not record its cost (result schema before 2.3).</p>'
    notional = (
        '<p class="notice" id="cost-notional">Local mode: notional prices of the local stand-ins, not an AWS bill.</p>'
        if cost.notional
        else ""
    )
    estimate = cost.estimated_usd
    kinds = "".join(
        f"<tr><td>{escape(item.item)}</td><td>{escape(item.quantity)}</td><td>{_usd(item.usd)}</td></tr>"
        for item in cost.by_kind
    )
    total = f"<tr><th>Measured total</th><th></th><th>{_usd(cost.measured_usd)}</th></tr>"
    if estimate is not None:
        total += (
            f"<tr><td>Estimate before the run (typical; low-worst)</td><td>{_usd(estimate.low)}-{_usd(estimate.worst)}"
            f"</td><td>{_usd(estimate.typical)}</td></tr>"
        )
    per_candidate = "".join(
        f"<tr><td>{escape(c.candidate_id)}</td><td>{escape(c.status)}</td><td>{c.endpoint_seconds:,.0f}</td>"
        f"<td>{c.task_seconds:,.0f}</td><td>{_usd(c.usd)}</td><td>{escape(c.note or '')}</td></tr>"
        for c in cost.candidates
    )
    sources = "; ".join([*cost.instance_price_sources, cost.service_price_source])
    notes = "".join(f"<li>{escape(note)}</li>" for note in cost.notes)
    return (
        notional
        + '<table class="figures" id="cost-by-kind"><thead><tr><th>What</th><th>Quantity</th><th>USD</th></tr></thead>'
        + f"<tbody>{kinds}{total}</tbody></table>"
        + '<table id="cost-by-candidate"><thead><tr><th>Candidate</th><th>Status</th><th>Endpoint s</th>'
        + "<th>Load-test task s (billed)</th><th>USD</th><th>Note</th></tr></thead>"
        + f"<tbody>{per_candidate}</tbody></table>"
        + f'<p class="why">Priced by: {escape(sources)}. Endpoint time runs from CreateEndpoint to the accepted '
        + "DeleteEndpoint; the orchestration (Step Functions, Lambda) is the run's, not a candidate's.</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
    )
