"""The self-contained HTML report: plotly.js is embedded, so the page works offline and from any folder or bucket."""

from __future__ import annotations

from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from rightsizing.models.result import ProbeRecord, RunResult
from rightsizing.report import charts, tables
from rightsizing.report.cost import cost_section
from rightsizing.report.serverless import serverless_section
from rightsizing.report.snippet import endpoint_snippet
from rightsizing.report.trials import trials_section

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:24px;
color:#222}
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555}.answer{background:#eaf6ea;border-left:6px solid #2ca02c;padding:12px 16px;font-size:1.15em;
margin:16px 0}.answer.none{background:#fdecea;border-color:#d62728}.why{font-size:.85em;color:#444}
.notice{color:#8a5a00}.banner{background:#fff4e0;border:1px solid #f0c36d;padding:8px 12px;margin:12px 0}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}th,td{border:1px solid #ddd;padding:4px 8px;
text-align:right}th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
table.candidates td:nth-child(2),table.candidates td:nth-child(3),table.candidates td:last-child{text-align:left}
table.figures td:last-child{text-align:left}.win{color:#2ca02c;font-weight:bold}
table.trials td:last-child{text-align:left}
pre{background:#f7f7f7;border:1px solid #ddd;padding:12px;overflow-x:auto;font-size:.85em}
.chart{margin:16px 0}
"""
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def _figure(div_id: str, figure: go.Figure | None, missing: str) -> str:
    if figure is None:
        return f'<p class="chart" id="{div_id}-missing">{escape(missing)}</p>'
    # plotly.js is embedded once in <head>; each figure is only a div and a Plotly.newPlot call.
    html: str = figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG)
    return '<div class="chart">' + html + "</div>"


def _charts(run: RunResult, traces: dict[str, list[ProbeRecord]]) -> str:
    return "".join(
        [
            _figure(
                "chart-price-vs-rps", charts.price_vs_rate(run) if run.prices else None, "No candidate was priced."
            ),
            _figure("chart-latency-vs-load", charts.latency_vs_load(run, traces), "No load-search trace is available."),
            _figure("chart-cost-at-target", charts.cost_at_target(run), "No candidate could be sized for the target."),
        ]
    )


def _knee(run: RunResult) -> list[str]:
    """The knee section: capacity within each latency bound, per candidate, and what a looser SLA would cost."""
    table = tables.knee_table(run)
    if not table:
        return []
    return [
        "<h2>Knee curve: capacity at other latency bounds</h2>",
        table,
        _figure("chart-knee", charts.knee_curves(run), "No probe measured a latency."),
    ]


def _artefacts(run: RunResult) -> str:
    """Relative links: they work in the run folder, locally or synced from S3."""
    links = [
        ("result.json", "result (JSON)"),
        ("results.csv", "results table (CSV)"),
        ("endpoint-snippet.yaml", "CloudFormation snippet"),
    ]
    links += [
        (f"candidates/{c.candidate_id}/locust_report.html", f"Locust report of {c.candidate_id}")
        for c in run.candidates
        if c.requests is not None  # a load test ran (also one whose generator was the limit)
    ]
    return "<ul>" + "".join(f'<li><a href="{escape(h)}">{escape(t)}</a></li>' for h, t in links) + "</ul>"


def render_html(run: RunResult, traces: dict[str, list[ProbeRecord]], snippet: str | None = None) -> str:
    """The whole report page for one run; ``traces`` maps candidate id to its search's probes."""
    title = f"Rightsizing report — {run.run_id}"
    banner = (
        '<div class="banner" id="local-notice">Local mode: instance types are local profiles on this machine and '
        "their prices are notional, not AWS figures.</div>"
        if run.mode == "local"
        else ""
    )
    meta = (
        f"{run.mode} mode · region {run.region} · target {run.traffic}"
        + f" · SLA {run.sla} · errors ≤ {100 * run.max_error_rate:g} %"
        + f" · result schema {run.schema_version}"
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<div class="meta">{escape(meta)}</div>',
        banner,
        tables.answer(run),
        tables.key_figures(run),
        "<h2>Charts</h2>",
        _charts(run, traces),
        *_knee(run),
        "<h2>Candidates</h2>",
        tables.candidates_table(run),
        trials_section(run),
        serverless_section(run),
        '<h2 id="cost">What this run cost</h2>',
        cost_section(run.cost),
        "<h2>Assumptions</h2>",
        tables.assumptions(run),
        "<h2>Deploy it</h2><p>CloudFormation/SAM for the recommended endpoint and its scaling policy:</p>",
        f'<pre id="snippet">{escape(snippet if snippet is not None else endpoint_snippet(run))}</pre>',
        "<h2>Artefacts</h2>",
        _artefacts(run),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n<body>\n'
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )
