"""Recommender: cheapest N x type within the SLA, count rounded up, every loser explained."""

from __future__ import annotations

import pytest

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.result import CandidateResult
from rightsizing.pricing.quote import PriceQuote
from rightsizing.recommender import instances_needed, recommend


def _result(cid: str, itype: str, rps: float | None, status: str = "succeeded", p99: float = 50) -> CandidateResult:
    return CandidateResult(
        candidate_id=cid,
        instance_type=itype,
        status=status,  # type: ignore[arg-type]
        sustainable_rps=rps,
        saturation_rps=rps,
        latency_ms=LatencyPercentiles(p50=10, p90=20, p95=30, p99=p99) if rps else None,
        failure_reason=None if status == "succeeded" else "ResourceLimitExceeded: quota 0",
    )


def _price(itype: str, usd: float) -> PriceQuote:
    return PriceQuote(instance_type=itype, region="us-east-1", usd_per_hour=usd, source="test prices")


def test_count_is_rounded_up_not_to_nearest() -> None:
    assert instances_needed(300, 140) == 3  # 2.14 -> 3 (nearest would say 2 and miss the target)
    assert instances_needed(280, 140) == 2
    assert instances_needed(10, 140) == 1


def test_count_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError):
        instances_needed(100, 0)


def test_cheapest_fleet_wins_over_cheapest_instance() -> None:
    results = [_result("a", "ml.c5.large", 100), _result("b", "ml.c5.xlarge", 250)]
    prices = {"a": _price("ml.c5.large", 0.102), "b": _price("ml.c5.xlarge", 0.204)}
    choice, why_not = recommend(results, prices, target_rps=300)
    assert why_not is None and choice is not None
    # a: 3 x 0.102 = 0.306 ; b: 2 x 0.204 = 0.408
    assert (choice.instance_type, choice.instance_count) == ("ml.c5.large", 3)
    assert choice.usd_per_hour == pytest.approx(0.306)
    assert choice.capacity_rps == pytest.approx(300)
    assert choice.headroom_percent == pytest.approx(0)
    assert choice.usd_per_million_inferences == pytest.approx(0.306 / (300 * 3600) * 1e6, rel=1e-4)
    assert choice.alternatives[0].instance_type == "ml.c5.xlarge"
    assert "more" in choice.alternatives[0].reason


def test_two_g4dn_serve_a_target_one_cannot() -> None:
    """The classic notebook's worked example: $0.736/h each, two of them = $1.472/h."""
    results = [_result("g", "ml.g4dn.xlarge", 70)]
    choice, _ = recommend(results, {"g": _price("ml.g4dn.xlarge", 0.736)}, target_rps=100)
    assert choice is not None
    assert choice.instance_count == 2
    assert choice.usd_per_hour == pytest.approx(1.472)
    # round-to-nearest (100/70 = 1.43 -> 1) would have recommended one instance serving only 70 RPS
    assert round(100 / 70) == 1


def test_ties_go_to_fewer_instances_then_lower_latency() -> None:
    results = [
        _result("many", "ml.c5.large", 100),  # 2 x 0.2 = 0.4
        _result("few", "ml.m5.xlarge", 200),  # 1 x 0.4 = 0.4
    ]
    prices = {"many": _price("ml.c5.large", 0.2), "few": _price("ml.m5.xlarge", 0.4)}
    choice, _ = recommend(results, prices, target_rps=200)
    assert choice is not None and choice.candidate_id == "few"
    assert "same price" in choice.alternatives[0].reason


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
    choice, _ = recommend(results, prices, target_rps=50)
    assert choice is not None and choice.candidate_id == "ok"
    reasons = {a.candidate_id: a.reason for a in choice.alternatives}
    assert reasons["quota"].startswith("benchmark failed: ResourceLimitExceeded")
    assert "no measured load met the latency SLA" in reasons["slow"]


def test_no_feasible_candidate_says_what_came_closest() -> None:
    results = [_result("a", "ml.c5.large", 0), _result("b", "ml.c5.xlarge", 0)]
    results[1].saturation_rps = 80.0
    choice, why_not = recommend(results, {}, target_rps=50)
    assert choice is None
    assert why_not is not None and "closest was ml.c5.xlarge" in why_not


def test_unpriced_candidate_is_not_recommended() -> None:
    results = [_result("a", "ml.c5.large", 100)]
    choice, why_not = recommend(results, {"a": "no bundled price for ml.c5.large in xx-1"}, target_rps=50)
    assert choice is None
    assert why_not is not None and "met the SLA but none could be recommended" in why_not and "not priced" in why_not
