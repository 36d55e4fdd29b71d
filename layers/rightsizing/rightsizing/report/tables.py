"""HTML fragments of the report: the answer, the key figures, the candidates table and the assumptions."""

from __future__ import annotations

from html import escape

from rightsizing.models.knee import KneeChoice
from rightsizing.models.request import SizingOptions
from rightsizing.models.result import Alternative, CandidateResult, RunResult
from rightsizing.report.charts import capacity_text
from rightsizing.report.trials import interval_text


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _usd(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"${value:,.{digits}f}"


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def answer(run: RunResult) -> str:
    """The one-sentence answer, or why there is none."""
    rec = run.recommendation
    target = f"{run.traffic} at {run.sla}"
    if rec is None:
        return (
            f'<div class="answer none" id="answer"><strong>No recommendation</strong> for {escape(target)}: '
            f"{escape(run.no_recommendation_reason or 'no candidate qualified')}</div>"
        )
    floor = (
        '<br><span class="notice" id="lower-bound">Sized on a lower bound: the test ended before it found the '
        "capacity, so each instance sustains at least the rate used and fewer instances may do.</span>"
        if rec.lower_bound
        else ""
    )
    return (
        f'<div class="answer" id="answer"><strong>{rec.instance_count} × {escape(rec.instance_type)}</strong> at '
        f"<strong>{_usd(rec.usd_per_hour)}/h</strong> serves {escape(target)}.<br>"
        f'<span class="why">{escape(rec.rationale)}</span>{floor}</div>'
    )


def key_figures(run: RunResult) -> str:
    rec = run.recommendation
    if rec is None:
        return ""
    rows = [
        ["Instances × type", f"{rec.instance_count} × {escape(rec.instance_type)}"],
        ["Container environment", escape(", ".join(f"{k}={v}" for k, v in sorted(rec.environment.items())) or "—")],
        ["Cost per hour", _usd(rec.usd_per_hour)],
        [
            "Cost per hour on demand",
            _usd(rec.usd_per_hour_on_demand)
            + (
                f" (Savings Plan discount {rec.savings_plan_discount_percent:g} % applied above)"
                if rec.savings_plan_discount_percent
                else ""
            ),
        ],
        ["Cost per 1M inferences at the target rate", _usd(rec.usd_per_million_inferences)],
        [
            "Cost per inference at full capacity",
            _usd(rec.usd_per_inference_at_capacity, 8)
            + (
                f" ({_usd(rec.usd_per_inference_at_capacity * 1_000_000)} per 1M)"
                if rec.usd_per_inference_at_capacity
                else ""
            ),
        ],
        [
            "Within-SLA RPS per instance",
            f"≥ {_num(rec.sustainable_rps_per_instance)} (a lower bound)"
            if rec.lower_bound
            else _num(rec.sustainable_rps_per_instance),
        ],
        ["Fleet capacity (RPS) / headroom", f"{_num(rec.capacity_rps)} / {_num(rec.headroom_percent, 0)} %"],
        [f"{run.sla.percentile} latency at that rate (ms)", _num(rec.latency_ms_at_sla_percentile)],
    ]
    auto = rec.autoscaling
    if auto is not None:
        rows += [
            [
                "Autoscaling instance count",
                f"{auto.min_instance_count} – {auto.max_instance_count} (for {auto.min_rps:g} – {auto.max_rps:g} RPS)",
            ],
            [
                "SageMakerVariantInvocationsPerInstance target",
                f"{auto.invocations_per_instance_target:,.1f} per minute",
            ],
            [
                "Cost per hour at min / max count",
                f"{_usd(auto.usd_per_hour_at_min)} / {_usd(auto.usd_per_hour_at_max)}",
            ],
        ]
    return _table(["", "recommended"], rows, "figures")


def _verdicts(run: RunResult) -> dict[str, Alternative]:
    rec = run.recommendation
    return {a.candidate_id: a for a in rec.alternatives} if rec else {}


# What was measured per candidate, in the console's table and the report's alike.
MEASURED_HEADERS = ["RPS in SLA", "max RPS", "p50 ms", "p95 ms", "p99 ms", "errors %"]


STATUS_LABELS = {"succeeded": "succeeded", "lower_bound": "lower bound", "failed": "failed", "skipped": "skipped"}


def status_label(c: CandidateResult) -> str:
    return STATUS_LABELS.get(c.status, c.status)


def within_sla_rps(c: CandidateResult) -> str:
    """The within-SLA rate, as a floor ("≥ 470.0") when the test ended before it found the capacity; with repeated
    trials the mean and its 95 % interval ("402.1 [380.2, 412.9]")."""
    interval = f" {interval_text(c.trials)}" if c.trials is not None and c.trials.has_interval else ""
    return ("≥ " if c.lower_bound else "") + _num(c.sustainable_rps) + interval


def measured_cells(c: CandidateResult) -> list[str]:
    lat = c.latency_ms
    return [
        within_sla_rps(c),
        _num(c.saturation_rps),
        _num(lat.p50 if lat else None),
        _num(lat.p95 if lat else None),
        _num(lat.p99 if lat else None),
        _num(100 * c.error_rate if c.error_rate is not None else None, 2),
    ]


def candidates_table(run: RunResult) -> str:
    rec = run.recommendation
    verdicts = _verdicts(run)
    rows = []
    for c in run.candidates:
        price = run.prices.get(c.candidate_id)
        lost = verdicts.get(c.candidate_id)
        count: int | None
        fleet: float | None
        if rec and rec.candidate_id == c.candidate_id:
            count, fleet, verdict = rec.instance_count, rec.usd_per_hour, '<span class="win">recommended</span>'
        else:
            count = lost.instance_count if lost else None
            fleet = lost.usd_per_hour if lost else None
            verdict = escape(_verdict(c, lost, run))
        rows.append(
            [
                escape(c.candidate_id),
                escape(c.instance_type),
                escape(status_label(c)),
                *measured_cells(c),
                _usd(price.usd_per_hour if price and price.usd_per_gb_second is None else None),  # serverless: per use
                str(count or "—"),
                _usd(fleet),
                verdict,
            ]
        )
    headers = [
        "candidate",
        "instance type",
        "status",
        *MEASURED_HEADERS,
        "$/h each",
        "instances",
        "$/h for target",
        "verdict",
    ]
    return _table(headers, rows, "candidates")


def _verdict(candidate: CandidateResult, lost: Alternative | None, run: RunResult) -> str:
    if lost is not None:
        return (f"#{lost.rank}: " if lost.rank else "") + lost.reason
    if candidate.status == "failed":
        return f"benchmark failed: {candidate.failure_reason}"
    if candidate.status == "skipped":
        return f"not measured: {candidate.failure_reason}"
    return run.price_errors.get(candidate.candidate_id) or candidate.stop_reason or ""


def assumptions(run: RunResult) -> str:
    options = run.sizing or SizingOptions()
    recorded = "" if run.sizing else " (defaults: this result did not record its sizing options)"
    sources = sorted({q.source for q in run.prices.values()})
    items = [
        f"Instance count = ceil(target ÷ (within-SLA RPS per instance × scaling efficiency)), always rounded "
        f"<strong>up</strong>; scaling efficiency {options.scaling_efficiency:g} applies to fleets of 2 or more, "
        "because SageMaker routes requests to instances at random by default, so a fleet of N sustains less than N "
        "× one instance (LEAST_OUTSTANDING_REQUESTS routing narrows the gap)" + recorded + ".",
        f"At least {options.min_instances} instance(s). Autoscaling target "
        f"SageMakerVariantInvocationsPerInstance = RPS per instance × {options.autoscaling_safety_factor:g} × 60.",
        f"Within-SLA RPS is the highest measured rate with {run.sla} and errors ≤ "
        f"{100 * run.max_error_rate:g} %. Latency is measured at the client (the load generator), network included.",
        "Prices: "
        + escape("; ".join(sources) or "none")
        + f" — on-demand USD, region {escape(run.region)}"
        + (
            f", Savings Plan discount {options.savings_plan_discount_percent:g} % applied (on-demand shown too)"
            if options.savings_plan_discount_percent
            else ", no Savings Plan discount"
        )
        + ".",
        "Cost per 1M inferences is at the target rate; cost per inference at full capacity assumes the fleet is "
        "kept busy at its within-SLA capacity (Inference Recommender's CostPerInference).",
    ]
    items += [f"Not priced: {escape(cid)}: {escape(why)}." for cid, why in sorted(run.price_errors.items())]
    items += [
        f"{escape(c.candidate_id)}: ≥ {_num(c.sustainable_rps)} RPS is a lower bound ({escape(c.floor_cause)}); an "
        "instance count sized on it may be more than needed. "
        + (
            "A larger load-test task, or more generator processes (load.max_workers), measures further."
            if c.generator_limited
            else "More time (limits.max_seconds_per_candidate) measures further."
        )
        for c in run.candidates
        if c.lower_bound
    ]
    unmeasured = [c.candidate_id for c in run.candidates if (c.failure_reason or "").startswith("not measured")]
    if unmeasured:
        items.append(
            "The test ended before any load was certified within the SLA for "
            + escape(", ".join(unmeasured))
            + ": their capacity is unknown, not zero."
        )
    items += [f'<strong class="notice">{escape(note)}</strong>' for note in run.notes]
    return '<ul class="assumptions" id="assumptions">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def knee_table(run: RunResult) -> str:
    """Each latency bound -> each candidate's capacity within it -> the cheapest fleet for the target, and what
    that costs against the SLA's answer."""
    knee = run.knee
    shown = [c for c in run.candidates if c.knee is not None]
    if knee is None or not shown:
        return ""
    at_sla = next((choice for choice in knee.choices if choice.sla), None)
    rows = []
    for choice in knee.choices:
        bound = f"{knee.percentile} ≤ {choice.milliseconds:g} ms" + (" (SLA)" if choice.sla else "")
        cells = []
        for c in shown:
            capacity = c.knee.at(choice.milliseconds) if c.knee else None
            text = capacity_text(capacity) if capacity else "—"
            cells.append(f'<span title="{escape(capacity.note)}">{escape(text)}</span>' if capacity else text)
        if choice.instance_count is None:
            option, cost, versus = escape(choice.note or "none"), "—", "—"
        else:
            option = f"{choice.instance_count} × {escape(choice.instance_type or '')}"
            cost = ("≤ " if choice.lower_bound else "") + _usd(choice.usd_per_hour)
            versus = _versus(choice, at_sla)
        rows.append([escape(bound), *cells, option, cost, versus])
    headers = ["latency bound", *[f"{c.candidate_id} RPS" for c in shown], "cheapest for the target", "$/h", "vs SLA"]
    return (
        f'<div id="knee">{_knee_sentence(run)}'
        + _table(headers, rows, "knee").replace('<table class="knee">', '<table class="knee" id="knee-table">', 1)
        + '<p class="why">RPS per instance within each bound, from the load-search probes (and any probes added '
        "for the curve): ≥ = at least (nothing faster was shown to fail), &lt; = no probed rate met it. The cheapest "
        "fleet is sized as the answer is.</p></div>"
    )


def _versus(choice: KneeChoice, at_sla: KneeChoice | None) -> str:
    if choice.sla or at_sla is None or at_sla.usd_per_hour is None or choice.usd_per_hour is None:
        return "—"
    delta = choice.usd_per_hour - at_sla.usd_per_hour
    if abs(delta) < 1e-9:
        return "same"
    return f"saves {_usd(-delta)}" if delta < 0 else f"+{_usd(delta)}"


def _knee_sentence(run: RunResult) -> str:
    """What the loosest bound with a choice would save (or cost) against the SLA's answer, in one sentence."""
    knee = run.knee
    if knee is None:
        return ""
    at_sla = next((c for c in knee.choices if c.sla and c.usd_per_hour is not None), None)
    looser = [c for c in knee.choices if at_sla and c.milliseconds > at_sla.milliseconds and c.usd_per_hour is not None]
    if at_sla is None or not looser:
        return ""
    best = min(looser, key=lambda c: (c.usd_per_hour or 0.0, c.milliseconds))
    if (best.usd_per_hour or 0.0) >= (at_sla.usd_per_hour or 0.0) - 1e-9:
        loosest = f"{knee.percentile} ≤ {max(c.milliseconds for c in looser):g} ms"
        if any(c.lower_bound for c in looser):  # sized on a floor: a smaller fleet may do, so no claim either way
            return (
                f'<p id="knee-answer">Up to {loosest} the cheapest fleet found still costs '
                f"{_usd(at_sla.usd_per_hour)}/h, but it is sized on a lower bound: a looser SLA may save more than "
                "these tests could show.</p>"
            )
        return (
            f'<p id="knee-answer">A looser SLA would not save anything here: up to {loosest} the cheapest fleet '
            f"still costs {_usd(at_sla.usd_per_hour)}/h.</p>"
        )
    at_most = "at most " if best.lower_bound else ""
    return (
        f'<p id="knee-answer">A looser SLA of {knee.percentile} ≤ {best.milliseconds:g} ms would cost {at_most}'
        f"<strong>{_usd(best.usd_per_hour)}/h</strong> ({best.instance_count} × {escape(best.instance_type or '')}) "
        f"instead of {_usd(at_sla.usd_per_hour)}/h.</p>"
    )
