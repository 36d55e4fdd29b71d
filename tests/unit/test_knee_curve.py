"""The knee curve: capacity at several latency bounds from one search's probes, and the probes it adds."""

from __future__ import annotations

import pytest
from test_adaptive_search import SimulatedServer, _search

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.result import ProbeRecord
from rightsizing.models.targets import LatencySla
from rightsizing.search.knee import KneeProbing, KneeRules, MainAnswer, bound_capacity, judge, knee_curve

RULES = KneeRules(LatencySla(milliseconds=50), max_error_rate=0.01, precision=0.05)


def _lat(p95: float) -> LatencyPercentiles:
    return LatencyPercentiles(p50=p95 * 0.5, p90=p95 * 0.9, p95=p95, p99=p95 * 1.3)


def _open(index: int, rate: float, p95: float, passed: bool, **fields: object) -> ProbeRecord:
    done = fields.pop("rps", rate)
    return ProbeRecord(
        index=index,
        users=0,
        seconds=3,
        requests=int(float(done) * 3),  # type: ignore[arg-type]
        failures=0,
        rps=done,  # type: ignore[arg-type]
        error_rate=fields.pop("error_rate", 0.0),  # type: ignore[arg-type]
        latency_ms=_lat(p95),
        passed=passed,
        kind="open",
        target_rps=rate,
        **fields,  # type: ignore[arg-type]
    )


def _closed(index: int, users: int, rps: float, p95: float, passed: bool) -> ProbeRecord:
    return ProbeRecord(
        index=index,
        users=users,
        seconds=2,
        requests=int(rps * 2),
        failures=0,
        rps=rps,
        error_rate=0,
        latency_ms=_lat(p95),
        passed=passed,
    )


def _trace() -> list[ProbeRecord]:
    """An adaptive search with SLA p95 50 ms: ceiling steps, then open loop 200 ✓ (20 ms), 300 ✓ (40 ms),
    330 ✗ (stopped early, 70 ms so far), 315 ✓ (48 ms)."""
    return [
        ProbeRecord(
            index=0,
            users=1,
            seconds=1,
            requests=90,
            failures=0,
            rps=90,
            error_rate=0,
            latency_ms=_lat(11),
            passed=False,
            kind="warmup",
        ),
        _closed(1, 1, 95, 11, True),
        _closed(2, 2, 190, 12, True),
        _closed(3, 4, 380, 14, True),
        _open(4, 200, 20, True),
        _open(5, 300, 40, True),
        _open(6, 330, 70, False, stopped_early=True),
        _open(7, 315, 48, True),
    ]


def test_a_probe_that_passed_early_meets_a_tighter_bound_its_latency_meets() -> None:
    """The adaptive search ends a probe early when its pass is clear: that is a pass with figures, not a failure.
    (The local demo once showed "no probed rate met 25 ms: below 138.9 RPS" beside a 138.9 RPS probe at p95 8.7 ms.)"""
    records = [
        _open(1, 224, 194, False, stopped_early=True),
        _open(2, 139, 8.7, True, stopped_early=True),
        _open(3, 203, 30, True, stopped_early=True),
        _open(4, 212, 176, False, stopped_early=True),
    ]
    assert judge(records[1], 25, RULES) is True
    assert judge(records[2], 25, RULES) is False  # its p95 of 30 ms is over 25 ms
    assert judge(records[2], 100, RULES) is True
    tight = bound_capacity(records, 25, RULES)
    assert (tight.status, tight.capacity_rps, tight.failed_rps) == ("measured", 139, 203)
    sla = bound_capacity(records, 50, RULES, MainAnswer(203))
    assert (sla.capacity_rps, sla.failed_rps) == (203, 212)


def test_points_are_the_deciding_open_loop_probes() -> None:
    curve = knee_curve(_trace(), RULES, [25, 50, 100], MainAnswer(315))
    assert [p.index for p in curve.points] == [4, 5, 6, 7]  # no warm-up, no closed-loop ceiling step
    assert [(p.offered_rps, p.latency_ms.p95, p.passed) for p in curve.points][2] == (330, 70, False)


def test_capacity_per_bound_from_the_probes_already_made() -> None:
    curve = knee_curve(_trace(), RULES, [25, 50, 100], MainAnswer(315))
    tight, sla, loose = curve.bounds
    # 25 ms: 200 RPS (20 ms) met it, 300 RPS (40 ms) did not: measured, but wider than the precision.
    assert (tight.status, tight.capacity_rps, tight.failed_rps, tight.precise) == ("measured", 200, 300, False)
    # The SLA's own bound is the search's answer, unchanged.
    assert (sla.sla, sla.status, sla.capacity_rps, sla.failed_rps, sla.precise) == (True, "measured", 315, 330, True)
    # 100 ms: the 330 RPS failure stopped early against 50 ms, so it says nothing of 100 ms: a floor, not bracketed.
    assert (loose.status, loose.capacity_rps, loose.failed_rps) == ("lower_bound", 315, None)
    assert "not bracketed" in loose.note and not loose.generator_limited


def test_a_probe_stopped_early_fails_tighter_bounds_and_is_no_verdict_for_looser_ones() -> None:
    stopped = _open(6, 330, 70, False, stopped_early=True)
    assert [judge(stopped, b, RULES) for b in (25, 50, 100)] == [False, False, None]
    full = _open(6, 330, 70, False)  # ran to its end: 70 ms is what it measured
    assert [judge(full, b, RULES) for b in (25, 50, 100)] == [False, False, True]
    added = _open(9, 360, 130, False, stopped_early=True, knee_bound_ms=100.0)  # run for 100 ms, stopped there
    assert [judge(added, b, RULES) for b in (50, 100, 200)] == [False, False, None]


def test_probes_the_search_did_not_count_count_nowhere() -> None:
    for record in (
        _open(4, 200, 20, False, valid=False),  # the generator was the limit
        _open(4, 200, 20, False, remeasured=True),  # windows disagreed: re-measured
        _open(4, 200, 20, False, note="withdrawn: a 20 s probe at 190.0 RPS failed"),
    ):
        assert [judge(record, b, RULES) for b in (25, 50, 100)] == [None, None, None]
    # Below the SLA a probe passes only if the search passed it (here it failed for its error rate).
    errors = _open(4, 200, 20, False, error_rate=0.05)
    assert [judge(errors, b, RULES) for b in (25, 50, 100)] == [False, False, False]
    behind = _open(4, 200, 20, False, rps=150)  # completed 150 of 200 offered: falling behind
    assert judge(behind, 100, RULES) is False


def test_generator_limit_above_a_bound_makes_it_a_lower_bound() -> None:
    trace = [_open(0, 200, 20, True), _open(1, 300, 60, False), _open(2, 330, 20, False, valid=False)]
    loose = bound_capacity(trace, 100, RULES)
    assert (loose.status, loose.capacity_rps, loose.generator_limited) == ("lower_bound", 300, True)
    assert "could not offer 330.0 RPS" in loose.note


def test_no_probed_rate_meeting_a_bound_is_an_upper_bound_not_zero() -> None:
    tight = bound_capacity(_trace(), 10, RULES)
    assert (tight.status, tight.capacity_rps, tight.failed_rps) == ("upper_bound", None, 200)
    assert "below 200.0 RPS" in tight.note
    assert bound_capacity([], 100, RULES).status == "not_measured"


def test_a_closed_loop_floor_as_the_answer_carries_over_to_looser_bounds() -> None:
    """The search's answer from a queue-free closed-loop step (time ran out before open loop passed): what meets
    the SLA meets a looser bound too, so the looser bound shows at least as much."""
    trace = [_closed(0, 1, 95, 11, True), _closed(1, 2, 190, 12, True), _open(2, 300, 400, False)]
    curve = knee_curve(trace, RULES, [50, 100], MainAnswer(190, lower_bound=True))
    sla, loose = curve.bounds
    assert (sla.status, sla.capacity_rps) == ("lower_bound", 190)
    assert (loose.status, loose.capacity_rps) == ("lower_bound", 190)


def test_stepped_mode_curves_use_its_closed_loop_steps() -> None:
    trace = [_closed(0, 1, 95, 11, True), _closed(1, 2, 190, 30, True), _closed(2, 4, 200, 80, False)]
    curve = knee_curve(trace, RULES, [20, 50, 100], MainAnswer(190))
    assert [p.index for p in curve.points] == [0, 1, 2]
    assert [(b.status, b.capacity_rps) for b in curve.bounds] == [
        ("measured", 95),
        ("measured", 190),
        ("lower_bound", 200),
    ]


def _searched(server: SimulatedServer) -> tuple[list[ProbeRecord], MainAnswer]:
    outcome = _search(50.0).run(server, budget_seconds=300, clock=server.clock)
    return outcome.probes, MainAnswer(outcome.sustainable_rps, outcome.lower_bound)


def test_extra_probes_bracket_each_bound_near_its_true_capacity() -> None:
    """4 slots x 10 ms: capacity within L ms is 400 x (1 - 10 / L): 240 at 25 ms, 320 at 50, 360 at 100."""
    server = SimulatedServer(slots=4, service_ms=10.0)
    probes, answer = _searched(server)
    before = knee_curve(probes, RULES, [25, 50, 100], answer)
    assert before.at(100).status == "lower_bound"  # type: ignore[union-attr]
    calls = len(server.calls)
    added = KneeProbing(RULES, [25, 50, 100], 8, answer=answer, min_completions=400, max_probe_seconds=6).run(
        server, probes, 120, clock=server.clock
    )
    assert 1 <= len(added) <= 8 and len(server.calls) == calls + len(added)
    assert all(r.knee_bound_ms in (25, 100) and r.kind == "open" for r in added)
    assert [r.index for r in added] == list(range(len(probes), len(probes) + len(added)))
    after = knee_curve(probes + added, RULES, [25, 50, 100], answer)
    assert after.extra_probes == len(added)
    truth = {25: 240.0, 50: 320.0, 100: 360.0}
    for bound in after.bounds:
        assert bound.status == "measured", bound
        assert bound.capacity_rps is not None
        assert truth[bound.milliseconds] * 0.9 <= bound.capacity_rps <= truth[bound.milliseconds] * 1.001, bound
    assert after.at(50).capacity_rps == answer.rps  # type: ignore[union-attr]  # the answer is unchanged


def test_no_time_left_adds_no_probe_and_says_not_bracketed() -> None:
    server = SimulatedServer(slots=4, service_ms=10.0)
    probes, answer = _searched(server)
    added = KneeProbing(RULES, [25, 50, 100], 8, answer=answer).run(server, probes, 2.0, clock=server.clock)
    assert added == []
    loose = knee_curve(probes, RULES, [25, 50, 100], answer).at(100)
    assert loose is not None and loose.status == "lower_bound" and "not bracketed" in loose.note


def test_probe_count_bounds_the_extra_probes() -> None:
    server = SimulatedServer(slots=4, service_ms=10.0)
    probes, answer = _searched(server)
    added = KneeProbing(RULES, [25, 50, 100, 200], 2, answer=answer).run(server, probes, 300, clock=server.clock)
    assert len(added) == 2
    assert {r.knee_bound_ms for r in added} == {25.0, 100.0}  # one each: the nearest bounds first, then round robin


def test_a_bound_below_the_idle_latency_gets_no_probe() -> None:
    """One request alone takes ~10 ms: no rate can meet 5 ms, so no probe is spent on it."""
    server = SimulatedServer(slots=4, service_ms=10.0)
    probes, answer = _searched(server)
    added = KneeProbing(RULES, [5, 50], 4, answer=answer).run(server, probes, 300, clock=server.clock)
    assert added == []
    assert knee_curve(probes, RULES, [5, 50], answer).bounds[0].status == "upper_bound"


@pytest.mark.parametrize("passed_sla", [True, False])
def test_an_added_probe_keeps_the_sla_verdict_in_passed(passed_sla: bool) -> None:
    server = SimulatedServer(slots=4, service_ms=10.0)
    probes, answer = _searched(server)
    bounds = [50, 100] if passed_sla else [25, 50]
    added = KneeProbing(RULES, bounds, 1, answer=answer).run(server, probes, 300, clock=server.clock)
    assert len(added) == 1
    record = added[0]
    p95 = record.latency_ms.p95 if record.latency_ms else None
    assert record.note.startswith(f"knee probe for p95 ≤ {bounds[0] if not passed_sla else bounds[1]:g} ms")
    assert record.passed == (p95 is not None and p95 <= 50 and not record.stopped_early)


def _trials(second_first_p95: float = 22) -> list[ProbeRecord]:
    one = [_open(0, 200, 20, True), _open(1, 300, 40, True), _open(2, 330, 70, False)]
    two = [_open(3, 200, second_first_p95, True), _open(4, 280, 45, True), _open(5, 310, 80, False)]
    return [r.model_copy(update={"trial": 1}) for r in one] + [r.model_copy(update={"trial": 2}) for r in two]


def test_with_trials_each_bound_is_the_mean_of_the_trials_as_the_answer_is() -> None:
    curve = knee_curve(_trials(), RULES, [25, 50, 100], MainAnswer(290))
    tight, sla, loose = curve.bounds
    assert (tight.status, tight.capacity_rps) == ("measured", 200)
    assert (sla.status, sla.capacity_rps) == ("measured", 290)  # the trials' mean, not the best trial's 300
    assert (loose.status, loose.capacity_rps) == ("lower_bound", 320)  # 330 and 310 ran to their end within 100 ms
    assert loose.note == "mean of 2 trials (330.0, 310.0 RPS)"
    assert len(curve.points) == 6


def test_a_bound_met_in_only_some_trials_has_no_mean() -> None:
    tight = knee_curve(_trials(second_first_p95=30), RULES, [25, 50], MainAnswer(290)).bounds[0]
    assert (tight.status, tight.capacity_rps) == ("not_measured", None)
    assert tight.note.startswith("met in 1 of 2 trials")
