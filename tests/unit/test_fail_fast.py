"""FailFast claims certainty: whenever it fires, the whole probe's verdict must be a failure, whatever the rest of
the probe would have measured. Checked against the real percentile and verdict code, at and around the boundary."""

from __future__ import annotations

import math
import random

import pytest

from rightsizing.search.base import FailFast, ProbeMeasurement, SlaCheck
from rightsizing.stats import latency_percentiles

SLA_MS = 50.0


@pytest.mark.parametrize("percentile", ["p50", "p90", "p95", "p99"])
def test_when_it_fires_every_completion_of_the_probe_still_fails(percentile: str) -> None:
    check = SlaCheck(percentile, SLA_MS, 0.01)  # type: ignore[arg-type]
    rule = FailFast.for_check(check)
    rng = random.Random(7)
    fired = 0
    for planned in (20, 57, 100, 333, 1000):
        over_needed = math.ceil(rule.over_share * planned + 2)
        # What was seen when it fired (just enough over the SLA), then the best case for the rest: every
        # remaining request fast and successful, or fewer requests than planned (the probe ended sooner).
        for seen_fast in (0, planned // 3, planned - over_needed):
            for total in {planned, over_needed + seen_fast}:
                over = [SLA_MS + rng.uniform(0.001, 500) for _ in range(over_needed)]
                fast = [rng.uniform(1, SLA_MS) for _ in range(total - over_needed)]
                assert rule.certain(planned, len(over), 0)
                fired += 1
                m = ProbeMeasurement(0, 1.0, total, 0, latency_percentiles(over + fast))
                passed, why = check.verdict(m)
                assert not passed, (percentile, planned, total, why)
    assert fired > 20


def test_failed_requests_fire_it_only_past_the_error_limit() -> None:
    check = SlaCheck("p95", SLA_MS, 0.01)
    rule = FailFast.for_check(check)
    assert not rule.certain(1000, over_sla=0, failed=11)  # 1.1 % now, but 1,000 fine requests may still come
    assert rule.certain(1000, over_sla=0, failed=12)
    m = ProbeMeasurement(0, 1.0, 1000, 12, latency_percentiles([1.0] * 988))
    assert not check.verdict(m)[0]


def test_below_the_threshold_it_waits() -> None:
    rule = FailFast(SLA_MS, 0.05, 0.01)
    assert not rule.certain(600, over_sla=31, failed=0)  # 31 of 600 = 5.2 %: the percentile could still pass
    assert rule.certain(600, over_sla=32, failed=0)


def test_a_pass_is_clear_once_enough_sends_are_within_the_sla_and_none_over_it() -> None:
    """None over the SLA in 59 sends: were 5 % of them over it (what p95 allows), seeing none would have had a
    chance below 5 %. One over, or one failed, and the probe runs its full length (near the knee latencies come in
    correlated runs, so counting them as independent would be over-confident)."""
    rule = FailFast(SLA_MS, 0.05, 0.01, pass_after_seconds=1.0)
    assert rule.early_pass_sends == 59 and 0.95**59 < 0.05 < 0.95**58
    assert rule.passes(matured=59, over_sla=0, failed=0, elapsed=1.0)
    assert not rule.passes(matured=58, over_sla=0, failed=0, elapsed=5.0)
    assert not rule.passes(matured=500, over_sla=0, failed=0, elapsed=0.9)  # not before pass_after_seconds
    assert not rule.passes(matured=500, over_sla=1, failed=0, elapsed=5.0)
    assert not rule.passes(matured=500, over_sla=0, failed=1, elapsed=5.0)
    assert not FailFast(SLA_MS, 0.05, 0.01).passes(matured=500, over_sla=0, failed=0, elapsed=5.0)  # no early pass


@pytest.mark.parametrize(("percentile", "sends"), [("p50", 30), ("p90", 30), ("p95", 59), ("p99", 299)])
def test_the_sends_a_clear_pass_needs_grow_with_the_percentile(percentile: str, sends: int) -> None:
    rule = FailFast.for_check(SlaCheck(percentile, SLA_MS, 0.01))  # type: ignore[arg-type]
    assert rule.early_pass_sends == sends  # p50 and p90 need fewer, but never fewer than 30
