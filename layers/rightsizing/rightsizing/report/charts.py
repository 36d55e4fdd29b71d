"""The report's plotly figures, built from the run result and the load-search traces (pure: data in, figures out)."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rightsizing.models.common import UNMEASURED, Percentile
from rightsizing.models.knee import BoundCapacity, KneePoint
from rightsizing.models.result import CandidateResult, ProbeRecord, RunResult

PERCENTILE_COLOURS: dict[Percentile, str] = {"p50": "#9ecae1", "p90": "#6baed6", "p95": "#3182bd", "p99": "#08519c"}
CHOSEN = "#2ca02c"
OTHER = "#7f7f7f"
MARGIN = {"l": 60, "r": 20, "t": 50, "b": 50}
LAYOUT: dict[str, object] = {"template": "plotly_white", "margin": MARGIN, "height": 420}


def label(candidate: CandidateResult) -> str:
    env = ", ".join(f"{k}={v}" for k, v in sorted(candidate.environment.items()))
    return f"{candidate.candidate_id}" + (f" ({env})" if env else "")


LOWER_BOUND = "lower bound (generator-limited: at least)"
PRICE_GROUPS: dict[str, dict[str, object]] = {
    "recommended": {"symbol": "star", "size": 20, "color": CHOSEN},
    "other candidates": {"symbol": "circle", "size": 12, "color": "#1f77b4"},
    LOWER_BOUND: {"symbol": "triangle-right", "size": 14, "color": "#ff7f0e"},
    "never met the SLA": {"symbol": "x", "size": 12, "color": "#d62728"},
}


def _price_group(c: CandidateResult, chosen: str | None) -> str:
    if c.candidate_id == chosen:
        return "recommended"
    if c.lower_bound:
        return LOWER_BOUND  # at its floor, pointing right: the endpoint may sustain more
    return "other candidates" if c.sustainable_rps else "never met the SLA"


def price_vs_rate(run: RunResult) -> go.Figure:
    """On-demand $/h of one instance against its within-SLA rate; the recommended type is the star, a lower bound
    (generator-limited) a triangle pointing right. Failed candidates were not measured: not plotted (not at 0)."""
    chosen = run.recommendation.candidate_id if run.recommendation else None
    fig = go.Figure()
    plotted = [c for c in run.candidates if c.candidate_id in run.prices and c.status not in UNMEASURED]
    groups: dict[str, list[CandidateResult]] = {name: [] for name in PRICE_GROUPS}
    for c in plotted:
        groups[_price_group(c, chosen)].append(c)
    for name, members in groups.items():
        if not members:
            continue
        fig.add_trace(
            go.Scatter(
                x=[c.sustainable_rps or 0.0 for c in members],
                y=[run.prices[c.candidate_id].usd_per_hour for c in members],
                text=[f"{label(c)} · {c.instance_type}" for c in members],
                customdata=["at least " if c.lower_bound else "" for c in members],
                mode="markers+text",
                textposition="top center",
                name=name,
                marker=PRICE_GROUPS[name],
                hovertemplate="%{text}<br>%{customdata}%{x:.1f} RPS within SLA per instance<br>$%{y:.4f}/h"
                "<extra></extra>",
            )
        )
    # Room for the text labels beside the right-most and top-most points.
    top_x = max((c.sustainable_rps or 0.0 for c in plotted), default=0.0)
    top_y = max((q.usd_per_hour for q in run.prices.values()), default=0.0)
    fig.update_layout(title="Price vs sustainable RPS per instance (on-demand)", **LAYOUT)
    fig.update_xaxes(title=f"RPS per instance within {run.sla}", range=[0, (top_x or 1.0) * 1.3])
    fig.update_yaxes(title="USD per instance-hour", range=[0, (top_y or 1.0) * 1.2])
    return fig


def latency_vs_load(run: RunResult, traces: dict[str, list[ProbeRecord]]) -> go.Figure | None:
    """Latency percentiles of every measured probe against the load offered, one panel per candidate."""
    shown = [c for c in run.candidates if [p for p in traces.get(c.candidate_id, []) if _plotted(p)]]
    if not shown:
        return None
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[label(c) for c in shown],
        shared_yaxes=True,
        horizontal_spacing=0.06,
        vertical_spacing=0.18,
    )
    for index, candidate in enumerate(shown):
        row, col = index // cols + 1, index % cols + 1
        probes = _in_drawing_order([p for p in traces[candidate.candidate_id] if _plotted(p)])
        _add_percentiles(fig, probes, run.sla.percentile, row, col, legend=index == 0)
        sla_text = f"SLA {run.sla.percentile} {run.sla.milliseconds:g} ms"
        sla_label = {"annotation_text": sla_text, "annotation_position": "top left"} if index == 0 else {}
        fig.add_hline(y=run.sla.milliseconds, line_dash="dash", line_color="#d62728", row=row, col=col, **sla_label)
        fig.update_xaxes(title_text="offered load (RPS)", rangemode="tozero", row=row, col=col)
    fig.update_yaxes(title_text="latency (ms)", rangemode="tozero", col=1)
    fig.update_layout(
        title="Latency percentiles vs offered load<br><sup>✗ = probe failed the SLA or error limit; ○ = re-measured "
        "(windows disagreed); ◇ = invalid (the generator was the limit); closed-loop steps are drawn in user order at "
        "the rate they achieved</sup>",
        **{**LAYOUT, "height": 380 * rows + 80, "margin": {**MARGIN, "t": 90}},
    )
    return fig


def _plotted(probe: ProbeRecord) -> bool:
    return probe.latency_ms is not None and probe.kind != "warmup"


def _offered(probe: ProbeRecord) -> float:
    """Open-loop probes offer a fixed arrival rate; closed-loop steps offer users, shown at the rate they drew."""
    return probe.target_rps if probe.target_rps else probe.rps


def _in_drawing_order(probes: list[ProbeRecord]) -> list[ProbeRecord | None]:
    """One line per probe kind (None breaks the line): open loop by offered rate, closed loop by users.

    Closed-loop throughput can fall as users rise past saturation, so sorting those by rate would zigzag.
    """
    ordered: list[ProbeRecord | None] = []
    for kind in sorted({p.kind for p in probes}):
        group = [p for p in probes if p.kind == kind]
        group.sort(key=lambda p: (_offered(p), p.index) if p.kind == "open" else (p.users, p.index))
        ordered += [*([None] if ordered else []), *group]
    return ordered


def _symbol(p: ProbeRecord | None) -> str:
    """A failure is an ✗; a probe that was no verdict (re-measured, or the generator's limit) is hollow."""
    if p is None or p.passed:
        return "circle"
    if p.remeasured:
        return "circle-open"
    if not p.valid:
        return "diamond-open"
    return "x"


def _hover(p: ProbeRecord | None) -> str:
    if p is None:
        return ""
    text = f"{p.kind} probe {p.index}: {p.users} users, {p.rps:.1f} RPS done, errors {100 * p.error_rate:.2f} %"
    return text + (f"<br>{p.note}" if p.note else "")


def _add_percentiles(
    fig: go.Figure, probes: list[ProbeRecord | None], sla: Percentile, row: int, col: int, legend: bool
) -> None:
    x = [_offered(p) if p else None for p in probes]
    for percentile, colour in PERCENTILE_COLOURS.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p.latency_ms.at(percentile) if p and p.latency_ms else None for p in probes],
                name=percentile,
                legendgroup=percentile,
                showlegend=legend,
                mode="lines+markers",
                text=[_hover(p) for p in probes],
                line={"color": colour, "width": 3 if percentile == sla else 1.5},
                marker={
                    "symbol": [_symbol(p) for p in probes],
                    "size": 8,
                    "color": colour,
                },
                hovertemplate=f"{percentile} %{{y:.1f}} ms at %{{x:.1f}} RPS<br>%{{text}}<extra></extra>",
            ),
            row=row,
            col=col,
        )


def cost_at_target(run: RunResult) -> go.Figure | None:
    """What each sized candidate's fleet costs per hour at the target rate; the recommendation in green."""
    rec = run.recommendation
    if rec is None:
        return None
    rows = [(rec.candidate_id, rec.instance_type, rec.instance_count, rec.usd_per_hour, True)] + [
        (a.candidate_id, a.instance_type, a.instance_count, a.usd_per_hour, False)
        for a in rec.alternatives
        if a.instance_count and a.usd_per_hour is not None
    ]
    rows.sort(key=lambda r: r[3], reverse=True)  # cheapest at the top of a horizontal bar chart
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=[r[0] for r in rows],
            x=[r[3] for r in rows],
            marker_color=[CHOSEN if r[4] else OTHER for r in rows],
            text=[f"{r[2]} × {r[1]} · ${r[3]:.4f}/h" for r in rows],
            textposition="auto",
            hovertemplate="%{y}<br>%{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Cost per hour to serve {run.traffic.sizing_rps:g} RPS (count rounded up)",
        **{**LAYOUT, "height": max(260, 70 * len(rows) + 120)},
    )
    fig.update_xaxes(title="USD per hour for the fleet", rangemode="tozero")
    return fig


BOUND_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def capacity_text(bound: BoundCapacity) -> str:
    """A bound's capacity as a figure a reader cannot mistake: "≥ 180.0" (a floor), "< 50.0" (nothing met it)."""
    if bound.status == "upper_bound" and bound.failed_rps:
        return f"< {bound.failed_rps:,.1f}"
    if bound.capacity_rps is None:
        return "—"
    return ("≥ " if bound.status == "lower_bound" else "") + f"{bound.capacity_rps:,.1f}"


def knee_curves(run: RunResult) -> go.Figure | None:
    """Latency at the SLA's percentile against completed throughput, one panel per candidate: the knee curve.
    Each latency bound is a horizontal line (the SLA red), and the capacity within it a marker on that line."""
    shown = [c for c in run.candidates if c.knee is not None and c.knee.points]
    if not shown:
        return None
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[label(c) for c in shown],
        shared_yaxes=True,
        horizontal_spacing=0.06,
        vertical_spacing=0.18,
    )
    percentile = run.sla.percentile
    loosest = max(b.milliseconds for c in shown if c.knee for b in c.knee.bounds)
    for index, candidate in enumerate(shown):
        knee = candidate.knee
        assert knee is not None
        row, col = index // cols + 1, index % cols + 1
        points = sorted(knee.points, key=lambda p: (p.kind, (p.offered_rps or p.rps) if p.kind == "open" else p.index))
        fig.add_trace(
            go.Scatter(
                x=[p.rps for p in points],
                y=[p.latency_ms.at(percentile) for p in points],
                mode="lines+markers",
                name=f"{percentile} per probe",
                legendgroup="points",
                showlegend=index == 0,
                line={"color": PERCENTILE_COLOURS[percentile], "width": 2},
                marker={"symbol": [_knee_symbol(p) for p in points], "size": 9},
                text=[_knee_hover(p) for p in points],
                hovertemplate=f"{percentile} %{{y:.1f}} ms at %{{x:.1f}} RPS done<br>%{{text}}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        for number, bound in enumerate(knee.bounds):
            colour = "#d62728" if bound.sla else BOUND_COLOURS[number % len(BOUND_COLOURS)]
            fig.add_hline(
                y=bound.milliseconds,
                line_dash="dash",
                line_color=colour,
                line_width=1.5 if bound.sla else 1,
                row=row,
                col=col,
                annotation_text=f"≤ {bound.milliseconds:g} ms: {capacity_text(bound)} RPS",
                annotation_position="top left",
                annotation_font_size=10,
            )
        at_bounds = [b for b in knee.bounds if b.capacity_rps]
        fig.add_trace(
            go.Scatter(
                x=[b.capacity_rps for b in at_bounds],
                y=[b.milliseconds for b in at_bounds],
                mode="markers",
                name="capacity within a bound",
                legendgroup="capacity",
                showlegend=index == 0,
                marker={
                    "symbol": ["triangle-right" if b.status == "lower_bound" else "diamond" for b in at_bounds],
                    "size": 13,
                    "color": "#2ca02c",
                    "line": {"color": "#222", "width": 1},
                },
                text=[f"{b.note}" for b in at_bounds],
                hovertemplate="within %{y:g} ms: %{x:.1f} RPS<br>%{text}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        fig.update_xaxes(title_text="completed RPS", rangemode="tozero", row=row, col=col)
    top = max(p.latency_ms.at(percentile) for c in shown if c.knee for p in c.knee.points)
    fig.update_yaxes(title_text=f"{percentile} latency (ms)", range=[0, min(top * 1.1, 2.5 * loosest)], col=1)
    fig.update_layout(
        title=f"Knee curve: {percentile} latency vs throughput, and capacity within each bound<br><sup>◆ = capacity "
        "within the bound; ▶ = at least that (not bracketed); ✗ = the probe failed the SLA; □ = a probe added for the "
        "curve; hollow = invalid (the generator was the limit)</sup>",
        **{**LAYOUT, "height": 380 * rows + 80, "margin": {**MARGIN, "t": 90}},
    )
    return fig


def _knee_symbol(point: KneePoint) -> str:
    base = "square" if point.bound_ms is not None else "circle"
    if not point.valid:
        return base + "-open"
    return base if point.passed else "x"


def _knee_hover(point: KneePoint) -> str:
    offered = f"{point.offered_rps:.1f} RPS offered, " if point.offered_rps else ""
    added = f"<br>added for the {point.bound_ms:g} ms bound" if point.bound_ms is not None else ""
    return f"probe {point.index}: {offered}errors {100 * point.error_rate:.2f} %" + added
