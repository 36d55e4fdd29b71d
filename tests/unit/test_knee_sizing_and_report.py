"""The knee in the request, the recommender and the report: bounds validated, the cheapest fleet per bound, the
table and the chart."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from rich.console import Console

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.knee import BoundCapacity, KneeCurve, KneePoint, KneeSummary, knee_bounds
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import RightsizingRequest, SizingOptions
from rightsizing.models.result import CandidateResult, RunResult
from rightsizing.models.targets import LatencySla, TrafficTarget
from rightsizing.recommender import knee_choices, recommend
from rightsizing.report import render_html
from rightsizing.report.charts import knee_curves
from rightsizing.report.tables import knee_table
from rightsizing_cli.output import print_result

SLA = LatencySla(milliseconds=50)
TRAFFIC = TrafficTarget(min_rps=300)
PRICES: dict[str, PriceQuote | str] = {
    "c01-small": PriceQuote(instance_type="ml.small", region="us-east-1", usd_per_hour=0.1, source="test"),
    "c02-large": PriceQuote(instance_type="ml.large", region="us-east-1", usd_per_hour=0.3, source="test"),
}


def test_default_bounds_are_half_and_twice_the_sla_from_the_probes_already_made(demo_request: dict) -> None:
    request = RightsizingRequest.model_validate(demo_request)
    assert request.knee.extra_probes == 0 and request.knee.bounds_ms is None
    assert request.knee_bounds_ms == [25, 50, 100]
    asked = RightsizingRequest.model_validate({**demo_request, "knee": {"bounds_ms": [200, 50, 100, 200]}})
    assert asked.knee.probes(trials=1) == 4  # asking for a knee measures it
    assert asked.knee.probes(trials=3) == 0  # with trials each bound comes from each trial's own search
    assert asked.knee_bounds_ms == [50, 100, 200]  # sorted, once each, the SLA among them


def test_extra_probes_with_trials_are_refused_but_a_default_survives_a_round_trip(demo_request: dict) -> None:
    demo_request["limits"] = {**demo_request["limits"], "max_seconds_per_candidate": 120}
    trials = {**demo_request, "load": {**demo_request["load"], "trials": 3}, "knee": {"bounds_ms": [25, 100]}}
    request = RightsizingRequest.model_validate(trials)
    # The plan step re-reads the request it was given as JSON: the default must not turn into an explicit figure.
    again = RightsizingRequest.model_validate(request.model_dump(mode="json"))
    assert again.knee.extra_probes is None and again.knee.probes(3) == 0
    with pytest.raises(ValidationError, match="no probes are added for the knee curve"):
        RightsizingRequest.model_validate({**trials, "knee": {"extra_probes": 2}})


def test_a_default_bound_that_would_not_fit_the_time_limit_is_left_out() -> None:
    assert knee_bounds(LatencySla(milliseconds=1000), None, max_seconds=30) == [500, 1000]  # 2 s x 20 > 30 s
    assert knee_bounds(LatencySla(milliseconds=0.15), None) == [0.15, 0.3]  # 0.075 ms is below any bound


def _point(index: int, rps: float, p95: float, passed: bool, bound: float | None = None) -> KneePoint:
    latency = LatencyPercentiles(p50=p95 / 2, p90=p95 * 0.9, p95=p95, p99=p95 * 1.2)
    return KneePoint(
        index=index,
        kind="open",
        offered_rps=rps,
        rps=rps,
        latency_ms=latency,
        error_rate=0,
        passed=passed,
        bound_ms=bound,
    )


def _bound(ms: float, status: str, rps: float | None, failed: float | None = None) -> BoundCapacity:
    return BoundCapacity(
        milliseconds=ms,
        sla=ms == 50,
        status=status,
        capacity_rps=rps,
        failed_rps=failed,  # type: ignore[arg-type]
        note=f"{ms:g} ms note",
    )


def _candidate(cid: str, itype: str, bounds: list[BoundCapacity]) -> CandidateResult:
    at_sla = next(b for b in bounds if b.sla)
    points = [
        _point(i, b.capacity_rps or 10.0, b.milliseconds * 0.9, b.milliseconds <= 50) for i, b in enumerate(bounds)
    ] + [_point(9, 400, 300, False, bound=100)]
    return CandidateResult(
        candidate_id=cid,
        instance_type=itype,
        status="succeeded",
        sustainable_rps=at_sla.capacity_rps,
        saturation_rps=400,
        latency_ms=LatencyPercentiles(p50=10, p90=20, p95=45, p99=50),
        requests=1000,
        knee=KneeCurve(percentile="p95", points=points, bounds=bounds, extra_probes=1),
    )


def _candidates() -> list[CandidateResult]:
    return [
        _candidate(
            "c01-small",
            "ml.small",
            [_bound(25, "upper_bound", None, 50), _bound(50, "measured", 100, 104), _bound(100, "measured", 170, 175)],
        ),
        _candidate(
            "c02-large",
            "ml.large",
            [_bound(25, "measured", 200, 205), _bound(50, "measured", 320, 330), _bound(100, "lower_bound", 330)],
        ),
    ]


def test_cheapest_fleet_at_each_bound_is_sized_as_the_answer_is() -> None:
    candidates = _candidates()
    choices = knee_choices(candidates, PRICES, TRAFFIC, [25, 50, 100], 50, SizingOptions())
    tight, sla, loose = choices
    # 25 ms: the small type met no probed rate, so only 2 x large (300 / (200 x 0.9) -> 2) qualifies.
    assert (tight.instance_type, tight.instance_count, tight.usd_per_hour) == ("ml.large", 2, pytest.approx(0.6))
    assert "c01-small (no probed rate met it" not in tight.note and "c01-small (25 ms note)" in tight.note
    # The SLA: exactly the answer (1 x large at 320 RPS beats 4 x small at 100 RPS each).
    answer, _ = recommend(candidates, PRICES, TRAFFIC, SizingOptions(), percentile="p95")
    assert answer is not None and sla.sla
    assert (sla.candidate_id, sla.instance_count, sla.usd_per_hour) == (
        answer.candidate_id,
        answer.instance_count,
        answer.usd_per_hour,
    )
    # 100 ms: 300 / (170 x 0.9) = 1.96 -> 2 x small at $0.2/h, cheaper than 1 x large at $0.3/h.
    assert (loose.instance_type, loose.instance_count, loose.usd_per_hour) == ("ml.small", 2, pytest.approx(0.2))
    assert not loose.lower_bound


def test_a_choice_sized_on_a_floor_says_so() -> None:
    candidates = [c for c in _candidates() if c.candidate_id == "c02-large"]
    choice = knee_choices(candidates, PRICES, TRAFFIC, [100], 50)[0]
    assert (choice.instance_count, choice.lower_bound) == (1, True)
    assert "fewer instances may do" in choice.note


def test_no_candidate_at_a_bound_is_said_not_sized_at_zero() -> None:
    candidates = [c for c in _candidates() if c.candidate_id == "c01-small"]
    choice = knee_choices(candidates, PRICES, TRAFFIC, [25], 50)[0]
    assert choice.instance_count is None and choice.usd_per_hour is None
    assert choice.note.startswith("no candidate can be sized") and "c01-small" in choice.note


def _run(**fields: Any) -> RunResult:
    candidates = _candidates()
    choice, why = recommend(candidates, PRICES, TRAFFIC, SizingOptions(), percentile="p95")
    choices = knee_choices(candidates, PRICES, TRAFFIC, [25, 50, 100], 50, SizingOptions())
    return RunResult(
        run_id="knee",
        mode="aws",
        region="us-east-1",
        traffic=TRAFFIC,
        sla=SLA,
        max_error_rate=0.01,
        candidates=candidates,
        recommendation=choice,
        no_recommendation_reason=why,
        prices={k: v for k, v in PRICES.items() if isinstance(v, PriceQuote)},
        knee=KneeSummary(percentile="p95", bounds_ms=[25, 50, 100], choices=choices),
        **fields,
    )


def test_table_maps_each_bound_to_capacity_per_candidate_and_the_cheapest_option() -> None:
    html = knee_table(_run())
    assert 'id="knee-table"' in html
    rows = html.split("<tr>")[2:]  # after the header row
    assert len(rows) == 3
    assert "p95 ≤ 25 ms" in rows[0] and "&lt; 50.0" in rows[0] and "200.0" in rows[0] and "2 × ml.large" in rows[0]
    assert "p95 ≤ 50 ms (SLA)" in rows[1] and "1 × ml.large" in rows[1] and "$0.3000" in rows[1]
    assert "≥ 330.0" in rows[2] and "2 × ml.small" in rows[2] and "saves $0.1000" in rows[2]
    assert "+$0.3000" in rows[0]  # the tighter bound costs more
    assert "A looser SLA of p95 ≤ 100 ms would cost <strong>$0.2000/h</strong>" in html


def test_chart_has_a_panel_per_candidate_with_every_bound_as_a_line() -> None:
    fig = knee_curves(_run())
    assert fig is not None
    curves = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(curves) == 2  # one curve per candidate
    assert list(curves[0].y)[:3] == pytest.approx([22.5, 45, 90]) and list(curves[0].marker.symbol)[-1] == "x"
    lines = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert sorted({s.y0 for s in lines}) == [25, 50, 100] and len(lines) == 6  # 3 bounds x 2 panels
    labels = [a.text for a in fig.layout.annotations]
    assert "≤ 100 ms: ≥ 330.0 RPS" in labels and "≤ 25 ms: < 50.0 RPS" in labels
    markers = [t for t in fig.data if t.mode == "markers"]
    assert [list(t.x) for t in markers] == [[100, 170], [200, 320, 330]]


def test_report_has_the_knee_section_only_when_there_is_a_knee() -> None:
    page = render_html(_run(), {})
    assert 'id="chart-knee"' in page and 'id="knee-table"' in page
    assert page.count("Plotly.newPlot") == 3  # price, cost at target, knee: no traces given for latency vs load
    bare = _run().model_copy(update={"knee": None})
    assert 'id="knee"' not in render_html(bare, {})


def test_console_says_what_each_other_bound_would_cost() -> None:
    out = io.StringIO()
    print_result(Console(file=out, width=200, color_system=None), _run(), Path("/tmp/knee"))
    text = out.getvalue()
    assert "At other latency bounds (p95" in text
    assert "≤ 25 ms: 2 × ml.large at $0.6000/h (+0.3000 $/h vs the SLA)" in text
    assert "≤ 100 ms: 2 × ml.small at $0.2000/h (-0.1000 $/h vs the SLA)" in text
    assert "≤ 50 ms:" not in text  # the SLA's own fleet is the recommendation above


def test_no_saving_is_claimed_only_when_the_looser_fleets_were_measured() -> None:
    run = _run()
    assert run.knee is not None
    sla = next(c for c in run.knee.choices if c.sla)
    same = [c.model_copy(update={"usd_per_hour": sla.usd_per_hour, "lower_bound": False}) for c in run.knee.choices]
    measured = run.model_copy(update={"knee": run.knee.model_copy(update={"choices": same})})
    assert "A looser SLA would not save anything here: up to p95 ≤ 100 ms" in knee_table(measured)
    floors = [c.model_copy(update={"lower_bound": not c.sla}) for c in same]
    floored = run.model_copy(update={"knee": run.knee.model_copy(update={"choices": floors})})
    html = knee_table(floored)
    assert "would not save anything" not in html and "sized on a lower bound" in html


def test_another_fleet_at_the_same_price_is_not_called_the_same() -> None:
    run = _run()
    assert run.knee is not None
    at_sla = next(c for c in run.knee.choices if c.sla)
    other = next(c for c in run.knee.choices if c.milliseconds == 25)
    twin = other.model_copy(update={"usd_per_hour": at_sla.usd_per_hour})  # 2 x ml.large, priced as the SLA's fleet
    same = at_sla.model_copy(update={"milliseconds": 100.0, "sla": False})
    knee = run.knee.model_copy(update={"choices": [twin, at_sla, same]})
    out = io.StringIO()
    print_result(Console(file=out, width=200, color_system=None), run.model_copy(update={"knee": knee}), Path("/tmp"))
    text = out.getvalue()
    assert f"≤ 25 ms: 2 × ml.large at ${at_sla.usd_per_hour:.4f}/h (same price as at the SLA)" in text
    assert f"≤ 100 ms: {at_sla.instance_count} × {at_sla.instance_type} at " in text
    assert "(same as at the SLA)" in text
