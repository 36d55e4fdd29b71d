"""Recommender: cheapest N x type within the SLA, count rounded up, every loser explained."""

from __future__ import annotations

import pytest

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import SizingOptions
from rightsizing.models.result import CandidateResult
from rightsizing.models.targets import TrafficTarget
from rightsizing.recommender import fleet_capacity, instances_needed, recommend

LINEAR = SizingOptions(scaling_efficiency=1.0)  # the classic notebook's assumption, for arithmetic that reads easily


def _result(
    cid: str, itype: str, rps: float | None, status: str = "succeeded", p99: float = 50, p95: float = 30
) -> CandidateResult:
    return CandidateResult(
        candidate_id=cid,
        instance_type=itype,
        status=status,  # type: ignore[arg-type]
        sustainable_rps=rps,
        saturation_rps=rps,
        latency_ms=LatencyPercentiles(p50=10, p90=20, p95=p95, p99=p99) if rps else None,
        failure_reason=None if status == "succeeded" else "ResourceLimitExceeded: quota 0",
    )


def _price(itype: str, usd: float) -> PriceQuote:
    return PriceQuote(instance_type=itype, region="us-east-1", usd_per_hour=usd, source="test prices")


def test_count_is_rounded_up_not_to_nearest() -> None:
    assert instances_needed(300, 140) == 3  # 2.14 -> 3 (nearest would say 2 and miss the target)
    assert instances_needed(280, 140) == 2
    assert instances_needed(10, 140) == 1
    assert instances_needed(300, 100) == 3  # exactly 3.0 stays 3 despite floating-point noise


def test_count_needs_a_positive_rate_and_a_sane_efficiency() -> None:
    with pytest.raises(ValueError):
        instances_needed(100, 0)
    with pytest.raises(ValueError):
        instances_needed(100, 50, efficiency=0)


def test_efficiency_adds_instances_only_to_fleets_of_two_or_more() -> None:
    assert instances_needed(100, 100, efficiency=0.9) == 1  # one instance: no routing loss
    assert instances_needed(280, 140, efficiency=0.9) == 3  # 280 / 126 = 2.22 -> 3 (linear scaling says 2)
    assert instances_needed(252, 140, efficiency=0.9) == 2  # 2 x 140 x 0.9 = 252 exactly
    assert fleet_capacity(1, 140, 0.9) == pytest.approx(140)
    assert fleet_capacity(3, 140, 0.9) == pytest.approx(378)


def test_default_efficiency_is_below_one() -> None:
    assert SizingOptions().scaling_efficiency == pytest.approx(0.9)
    results = [_result("a", "ml.c5.large", 140)]
    choice, _ = recommend(results, {"a": _price("ml.c5.large", 0.102)}, TrafficTarget(min_rps=280))
    assert choice is not None and choice.instance_count == 3
    assert choice.capacity_rps == pytest.approx(378)
    assert "0.9 scaling efficiency" in choice.rationale


def test_minimum_instance_count_is_honoured() -> None:
    assert instances_needed(10, 140, minimum=2) == 2
    results = [_result("a", "ml.c5.large", 140)]
    choice, _ = recommend(
        results, {"a": _price("ml.c5.large", 0.1)}, TrafficTarget(min_rps=10), SizingOptions(min_instances=2)
    )
    assert choice is not None and choice.instance_count == 2
    assert choice.usd_per_hour == pytest.approx(0.2)
    assert "at least 2" in choice.rationale


def test_cheapest_fleet_wins_over_cheapest_instance() -> None:
    results = [_result("a", "ml.c5.large", 100), _result("b", "ml.c5.xlarge", 250)]
    prices = {"a": _price("ml.c5.large", 0.102), "b": _price("ml.c5.xlarge", 0.204)}
    choice, why_not = recommend(results, prices, TrafficTarget(min_rps=300), LINEAR)
    assert why_not is None and choice is not None
    # a: 3 x 0.102 = 0.306 ; b: 2 x 0.204 = 0.408
    assert (choice.instance_type, choice.instance_count) == ("ml.c5.large", 3)
    assert choice.usd_per_hour == pytest.approx(0.306)
    assert choice.capacity_rps == pytest.approx(300)
    assert choice.headroom_percent == pytest.approx(0)
    assert choice.usd_per_million_inferences == pytest.approx(0.306 / (300 * 3600) * 1e6, rel=1e-4)
    assert choice.alternatives[0].instance_type == "ml.c5.xlarge"
    assert choice.alternatives[0].rank == 2
    assert "more" in choice.alternatives[0].reason


def test_costs_per_hour_per_million_and_per_inference_at_capacity() -> None:
    results = [_result("a", "ml.c5.large", 100)]
    choice, _ = recommend(results, {"a": _price("ml.c5.large", 0.36)}, TrafficTarget(min_rps=50))
    assert choice is not None and choice.instance_count == 1
    assert choice.usd_per_hour == pytest.approx(0.36)
    assert choice.usd_per_million_inferences == pytest.approx(0.36 / (50 * 3600) * 1e6)  # at the target: $2/1M
    assert choice.usd_per_inference_at_capacity == pytest.approx(0.36 / (100 * 3600))  # at full load: $1/1M


def test_two_g4dn_serve_a_target_one_cannot() -> None:
    """The classic notebook's worked example: $0.736/h each, two of them = $1.472/h."""
    results = [_result("g", "ml.g4dn.xlarge", 70)]
    choice, _ = recommend(results, {"g": _price("ml.g4dn.xlarge", 0.736)}, TrafficTarget(min_rps=100))
    assert choice is not None
    assert choice.instance_count == 2
    assert choice.usd_per_hour == pytest.approx(1.472)
    assert choice.capacity_rps == pytest.approx(2 * 70 * 0.9)  # 126 RPS >= 100 even with the routing margin
    # round-to-nearest (100/70 = 1.43 -> 1) would have recommended one instance serving only 70 RPS


def test_round_up_differs_from_round_to_nearest_where_the_notebook_goes_wrong() -> None:
    """Below x.5 nearest rounding under-provisions (2.2 instances' worth of load is 3, not 2); above, both agree."""
    # 154/70 = 2.2, 100/70 = 1.43 and 170/70 = 2.43 round to 2, 1 and 2 instances, each short of the target.
    for target, ours in [(154, 3), (100, 2), (170, 3)]:
        assert instances_needed(target, 70) == ours  # linear scaling: rounding alone makes the difference
    assert instances_needed(190, 70) == 3  # 2.7: the same answer either way


def test_ties_go_to_fewer_instances_then_lower_latency() -> None:
    results = [
        _result("many", "ml.c5.large", 100),  # 2 x 0.2 = 0.4
        _result("few", "ml.m5.xlarge", 200),  # 1 x 0.4 = 0.4
    ]
    prices = {"many": _price("ml.c5.large", 0.2), "few": _price("ml.m5.xlarge", 0.4)}
    choice, _ = recommend(results, prices, TrafficTarget(min_rps=200), LINEAR)
    assert choice is not None and choice.candidate_id == "few"
    assert "same price; needs more instances" in choice.alternatives[0].reason


def test_latency_tie_break_uses_the_sla_percentile() -> None:
    # Same price and count: "fast95" is better at p95 but worse at p99.
    results = [
        _result("fast99", "ml.c5.large", 100, p95=40, p99=45),
        _result("fast95", "ml.c6i.large", 100, p95=20, p99=90),
    ]
    prices = {"fast99": _price("ml.c5.large", 0.1), "fast95": _price("ml.c6i.large", 0.1)}
    at_p95, _ = recommend(results, prices, TrafficTarget(min_rps=100), percentile="p95")
    at_p99, _ = recommend(results, prices, TrafficTarget(min_rps=100), percentile="p99")
    assert at_p95 is not None and at_p95.candidate_id == "fast95"
    assert at_p95.latency_ms_at_sla_percentile == pytest.approx(20)
    assert "higher p95 latency (40.0 ms vs 20.0 ms)" in at_p95.alternatives[0].reason
    assert at_p99 is not None and at_p99.candidate_id == "fast99"


def test_traffic_range_sizes_for_max_and_suggests_autoscaling() -> None:
    results = [_result("a", "ml.c5.large", 100)]
    choice, _ = recommend(results, {"a": _price("ml.c5.large", 0.1)}, TrafficTarget(min_rps=80, max_rps=400))
    assert choice is not None
    assert choice.instance_count == 5  # 400 / (100 x 0.9) = 4.4 -> 5
    auto = choice.autoscaling
    assert auto is not None
    assert (auto.min_instance_count, auto.max_instance_count) == (1, 5)  # 80 RPS fits one instance
    assert auto.invocations_per_instance_target == pytest.approx(100 * 0.5 * 60)
    assert auto.usd_per_hour_at_min == pytest.approx(0.1)
    assert auto.usd_per_hour_at_max == pytest.approx(0.5)


def test_autoscaling_minimum_respects_min_instances_and_safety_factor() -> None:
    results = [_result("a", "ml.c5.large", 100)]
    options = SizingOptions(min_instances=2, autoscaling_safety_factor=0.6)
    choice, _ = recommend(results, {"a": _price("ml.c5.large", 0.1)}, TrafficTarget(min_rps=50, max_rps=250), options)
    assert choice is not None and choice.autoscaling is not None
    assert choice.autoscaling.min_instance_count == 2
    assert choice.autoscaling.max_instance_count == 3
    assert choice.autoscaling.invocations_per_instance_target == pytest.approx(3600)


def test_savings_plan_discount_is_applied_and_on_demand_reported() -> None:
    results = [_result("a", "ml.c5.large", 100)]
    options = SizingOptions(savings_plan_discount_percent=25)
    choice, _ = recommend(results, {"a": _price("ml.c5.large", 0.2)}, TrafficTarget(min_rps=150), options)
    assert choice is not None and choice.instance_count == 2
    assert choice.usd_per_hour_on_demand == pytest.approx(0.4)
    assert choice.usd_per_hour == pytest.approx(0.3)
    assert choice.savings_plan_discount_percent == 25
    assert "25 % Savings Plan discount" in choice.rationale and "$0.4000/h on demand" in choice.rationale


def test_failed_and_infeasible_candidates_are_explained() -> None:
    results = [
        _result("ok", "ml.c5.large", 100),
        _result("quota", "ml.g5.xlarge", None, status="failed"),
        _result("slow", "ml.t2.medium", 0),
    ]
    prices = {
        "ok": _price("ml.c5.large", 0.1),
        "quota": _price("ml.g5.xlarge", 1.4),
        "slow": _price("ml.t2.medium", 0.05),
    }
    choice, _ = recommend(results, prices, TrafficTarget(min_rps=50))
    assert choice is not None and choice.candidate_id == "ok"
    reasons = {a.candidate_id: a.reason for a in choice.alternatives}
    assert reasons["quota"].startswith("benchmark failed: ResourceLimitExceeded")
    assert "no measured load met the latency SLA" in reasons["slow"]
    assert all(a.rank is None for a in choice.alternatives)


def test_no_feasible_candidate_says_what_came_closest() -> None:
    results = [_result("a", "ml.c5.large", 0), _result("b", "ml.c5.xlarge", 0)]
    results[1].saturation_rps = 80.0
    choice, why_not = recommend(results, {}, TrafficTarget(min_rps=50))
    assert choice is None
    assert why_not is not None and "closest was ml.c5.xlarge" in why_not
    assert "Try larger" in why_not


def test_unpriced_candidate_is_not_recommended() -> None:
    results = [_result("a", "ml.c5.large", 100)]
    choice, why_not = recommend(results, {"a": "no bundled price for ml.c5.large in xx-1"}, TrafficTarget(min_rps=50))
    assert choice is None
    assert why_not is not None and "met the SLA but none could be recommended" in why_not and "not priced" in why_not


def _floor(cid: str, itype: str, rps: float) -> CandidateResult:
    """A generator-limited candidate: at least ``rps`` within the SLA."""
    return _result(cid, itype, rps).model_copy(update={"status": "lower_bound", "generator_limited": True})


def test_a_lower_bound_is_sized_on_and_said_to_be_one() -> None:
    results = [_floor("a", "ml.c5.large", 120)]
    choice, why_not = recommend(results, {"a": _price("ml.c5.large", 0.1)}, TrafficTarget(min_rps=200), LINEAR)
    assert why_not is None and choice is not None
    assert choice.instance_count == 2 and choice.sustainable_rps_per_instance == 120  # sized on the floor
    assert choice.lower_bound
    assert "sustains at least 240.0 RPS" in choice.rationale and "(at least 120.0 RPS each" in choice.rationale
    assert "120.0 RPS is a lower bound (the load generator, not the endpoint, was the limit)" in choice.rationale
    timed = recommend(
        [_floor("a", "ml.c5.large", 120).model_copy(update={"generator_limited": False})],
        {"a": _price("ml.c5.large", 0.1)},
        TrafficTarget(min_rps=200),
        LINEAR,
    )[0]
    assert (
        timed is not None
        and "120.0 RPS is a lower bound (the time budget ran out before the search found the capacity)"
        in timed.rationale
    )
    measured, _ = recommend(
        [_result("a", "ml.c5.large", 120)], {"a": _price("ml.c5.large", 0.1)}, TrafficTarget(min_rps=200)
    )
    assert measured is not None and not measured.lower_bound and "lower bound" not in measured.rationale


def test_a_lower_bound_that_loses_on_price_says_it_might_need_fewer() -> None:
    results = [_result("ok", "ml.c5.large", 100), _floor("floor", "ml.c5.xlarge", 90)]
    prices = {"ok": _price("ml.c5.large", 0.1), "floor": _price("ml.c5.xlarge", 0.2)}
    choice, _ = recommend(results, prices, TrafficTarget(min_rps=180), LINEAR)
    assert choice is not None and choice.candidate_id == "ok" and not choice.lower_bound
    lost = choice.alternatives[0]
    assert lost.candidate_id == "floor" and lost.rank == 2
    assert "costs $" in lost.reason and "is a lower bound" in lost.reason and "fewer instances may do" in lost.reason


def test_only_lower_bounds_that_missed_still_count_as_measured() -> None:
    floor = _floor("a", "ml.c5.large", 50)
    _, why_not = recommend([floor], {"a": "no price"}, TrafficTarget(min_rps=100))
    assert why_not is not None and "met the SLA but none could be recommended" in why_not
