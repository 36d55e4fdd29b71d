"""The bookkeeping every search shares: budget, numbered records reported as they come, one outcome."""

from __future__ import annotations

import pytest
from closed_loop_sim import FakeClock

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.load import LoadSettings, Phase
from rightsizing.models.result import ProbeRecord
from rightsizing.models.targets import LatencySla
from rightsizing.search import ProbeMeasurement, ProbeSession, SearchOutcome, SearchStrategy, strategy_for


def measurement(users: int = 1, requests: int = 100, seconds: float = 4.0) -> ProbeMeasurement:
    latencies = LatencyPercentiles(p50=10.0, p90=12.0, p95=15.0, p99=20.0)
    return ProbeMeasurement(users, seconds, requests, 0, latencies)


def test_the_deadline_is_read_on_the_session_clock() -> None:
    clock = FakeClock(now=100.0)
    session = ProbeSession(deadline=110.0, clock=clock)
    clock.now = 106.0

    assert session.remaining() == pytest.approx(4.0)
    assert session.fits(4.0)  # ending exactly at the deadline still fits
    assert not session.fits(4.5)


def test_out_of_time_is_empty_when_the_probe_fits_and_names_it_when_not() -> None:
    clock = FakeClock()
    session = ProbeSession(deadline=10.0, clock=clock)

    assert session.out_of_time("step", "2 users", 10.0) == ""
    clock.now = 12.0  # past the deadline: the remaining time reads 0, not a negative figure
    assert session.out_of_time("step", "2 users", 5.0) == (
        "Time budget exhausted: the next step (2 users, ~5.0 s) would not fit in the remaining 0.0 s."
    )


def test_records_are_numbered_by_position_and_reported_as_they_are_made() -> None:
    seen: list[ProbeRecord] = []
    session = ProbeSession(deadline=60.0, clock=FakeClock(), on_probe=seen.append)

    first = session.record(measurement(users=1), True, "ok")
    second = session.record(measurement(users=2), False, "too slow", kind="open", stable=False, valid=False)

    assert [r.index for r in session.records] == [0, 1]
    assert seen == session.records == [first, second]
    assert (first.kind, first.stable, first.valid) == ("closed", None, True)  # the record's defaults
    assert (second.kind, second.stable, second.valid, second.note) == ("open", False, False, "too slow")
    assert second.users == 2 and second.rps == pytest.approx(25.0)


def test_the_outcome_lets_the_answer_kinds_decide() -> None:
    session = ProbeSession(deadline=60.0, clock=FakeClock())
    session.record(measurement(requests=400), True)  # closed loop: 100 rps, passing
    session.record(measurement(requests=200), True, kind="open")  # open loop: 50 rps, passing

    assert session.outcome("done").sustainable_rps == pytest.approx(100.0)
    decided = session.outcome("done", answer_kinds=frozenset({"open"}))
    assert decided.sustainable_rps == pytest.approx(50.0)
    assert decided.saturation_rps == pytest.approx(100.0)
    assert decided.stop_reason == "done"


class OneProbe(SearchStrategy[int]):
    """Probes ``users`` once if the budget allows, and says how much time it had."""

    def search(self, probe: int, session: ProbeSession) -> SearchOutcome:
        if session.fits(4.0):
            session.record(measurement(users=probe), True)
        return session.outcome(f"deadline {session.deadline:g}, {session.remaining():g} s left")


def test_run_opens_a_session_on_the_budget_from_the_clock_reading() -> None:
    seen: list[ProbeRecord] = []
    outcome = OneProbe().run(3, budget_seconds=30.0, clock=FakeClock(now=500.0), on_probe=seen.append)

    assert outcome.stop_reason == "deadline 530, 30 s left"
    assert [r.users for r in outcome.probes] == [3]
    assert seen == outcome.probes

    assert OneProbe().run(3, budget_seconds=3.0, clock=FakeClock()).probes == []


@pytest.mark.parametrize("mode", ["adaptive", "ramp", "stepped", "phases"])
def test_every_mode_builds_a_search_strategy(mode: str) -> None:
    phases = [Phase(initial_users=1, spawn_rate_per_minute=60, duration_seconds=10)] if mode == "phases" else []
    load = LoadSettings(mode=mode, phases=phases)

    assert isinstance(strategy_for(load, LatencySla(percentile="p95", milliseconds=50), 0.01), SearchStrategy)
