"""The phases search (Inference Recommender-style traffic phases) against a simulated server and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from closed_loop_sim import ClosedLoopServer, FakeClock

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.load import Phase
from rightsizing.models.request import LoadSettings, parse_request
from rightsizing.models.result import ProbeRecord
from rightsizing.models.targets import LatencySla
from rightsizing.search import PhasesSearch, strategy_for
from rightsizing.search.phases import phase_slices


def phases_server(clock: FakeClock, **overrides: Any) -> ClosedLoopServer:
    """Many slots and no settle time unless a test says otherwise: phases tests follow users, not saturation."""
    return ClosedLoopServer(clock, **{"slots": 1000, "settle_seconds": 0.0, **overrides})


def phase(initial: int, rate: int, seconds: float) -> Phase:
    return Phase(initial_users=initial, spawn_rate_per_minute=rate, duration_seconds=seconds)


def search(phases: list[Phase], **overrides: Any) -> PhasesSearch:
    sla = LatencySla(percentile=overrides.pop("sla_percentile", "p95"), milliseconds=overrides.pop("sla_ms", 1000.0))
    settings: dict[str, Any] = {"sla": sla, "max_error_rate": 0.01}
    settings |= {"phases": phases, "step_seconds": 2.0, "max_users": 256}
    settings.update(overrides)
    return PhasesSearch(**settings)


# --- the traffic pattern -------------------------------------------------------------------------------------


def test_users_grow_at_the_spawn_rate_from_the_initial_users() -> None:
    clock = FakeClock()
    server = phases_server(clock)

    outcome = search([phase(2, 30, 20)], step_seconds=4.0).run(server, budget_seconds=600, clock=clock)

    # 30 users per minute = one more user every 2 s, sampled at each 4 s slice start.
    assert server.calls == [(2, 4.0), (4, 4.0), (6, 4.0), (8, 4.0), (10, 4.0)]
    assert [p.users for p in outcome.probes] == [2, 4, 6, 8, 10]
    assert all(p.kind == "closed" and p.passed for p in outcome.probes)
    assert clock.now == pytest.approx(20.0)


def test_each_phase_restarts_at_its_own_initial_users() -> None:
    clock = FakeClock()
    server = phases_server(clock)

    outcome = search([phase(1, 60, 6), phase(10, 0, 4)]).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 3, 5, 10, 10]
    assert outcome.stop_reason == (
        "All 2 phases completed (10 s of traffic, up to 10 users) without reaching a stopping condition."
    )
    assert outcome.probes[3].note == "phase 2 of 2 at 0 s (10 users)"
    # Users grow continuously within a phase: only a phase's first slice waits for the load to settle.
    assert server.settled == [True, False, False, True, False]


def test_slices_split_a_phase_evenly_and_never_shorter_than_a_step() -> None:
    slices = phase_slices([phase(1, 60, 5)], step_seconds=2.0, max_users=256)

    # 5 s in slices of >= 2 s: two of 2.5 s; at 2.5 s, 1 + 2.5 users rounds half up to 4.
    assert [(s.users, s.offset, s.seconds) for s in slices] == [(1, 0.0, 2.5), (4, 2.5, 2.5)]


def test_a_phase_shorter_than_a_step_is_one_slice_of_its_length() -> None:
    slices = phase_slices([phase(3, 600, 1.5)], step_seconds=2.0, max_users=256)

    assert [(s.users, s.seconds) for s in slices] == [(3, 1.5)]


def test_max_users_caps_the_users() -> None:
    clock = FakeClock()
    server = phases_server(clock)

    search([phase(3, 120, 10)], max_users=6).run(server, budget_seconds=600, clock=clock)

    assert server.users == [3, 6, 6, 6, 6]  # uncapped: 3, 7, 11, 15, 19


def test_initial_users_above_max_users_are_capped_too() -> None:
    slices = phase_slices([phase(50, 0, 4)], step_seconds=2.0, max_users=8)

    assert [s.users for s in slices] == [8, 8]


# --- stopping conditions -------------------------------------------------------------------------------------


def test_stops_at_the_first_slice_over_the_sla() -> None:
    clock = FakeClock()
    # p95 = 1.2 * (10 + users) ms: 21 users 37.2 ms (passes 40 ms), 31 users 49.2 ms (fails).
    server = phases_server(clock, slots=64, service_ms=10.0, contention_ms_per_user=1.0)

    outcome = search([phase(1, 300, 60)], sla_ms=40.0).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 11, 21, 31]
    assert [p.passed for p in outcome.probes] == [True, True, True, False]
    assert outcome.stop_reason == (
        "Stopped in phase 1 of 1 at 6 s (31 users): p95 latency 49.2 ms exceeded the 40 ms SLA."
    )
    assert outcome.probes[-1].note == "phase 1 of 1 at 6 s (31 users): p95 latency 49.2 ms exceeded the 40 ms SLA"
    # The answer is the best passing slice, not the faster failing one.
    assert outcome.sustainable_rps == pytest.approx(21 / 0.031, rel=1e-3)
    assert outcome.saturation_rps == pytest.approx(31 / 0.041, rel=1e-3)
    assert outcome.latency_at_sustainable is not None
    assert outcome.latency_at_sustainable.p95 == pytest.approx(37.2)


def test_stops_when_the_error_rate_exceeds_the_limit() -> None:
    clock = FakeClock()
    server = phases_server(clock, error_rate=lambda users: 0.05 if users >= 5 else 0.0)

    outcome = search([phase(1, 60, 20)]).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 3, 5]
    assert outcome.stop_reason == (
        "Stopped in phase 1 of 1 at 4 s (5 users): error rate 5.0% exceeded the 1.0% limit (25 of 500 requests failed)."
    )
    assert outcome.sustainable_rps == pytest.approx(150.0)
    assert outcome.error_rate_at_sustainable == 0.0


def test_stops_when_invocations_per_minute_reach_the_maximum() -> None:
    clock = FakeClock()
    server = phases_server(clock)  # 50 rps per user = 3000 invocations per minute per user

    outcome = search([phase(1, 60, 20)], max_invocations_per_minute=12_000).run(server, 600, clock=clock)

    assert server.users == [1, 3, 5]  # 3 users: 9000/min, 5 users: 15000/min
    assert outcome.stop_reason == (
        "Reached max_invocations_per_minute (12,000): phase 1 of 1 at 4 s (5 users) completed 15,000 requests "
        "per minute (250.0 rps), within the SLA."
    )
    assert outcome.sustainable_rps == pytest.approx(250.0)


def test_reaching_exactly_the_maximum_invocations_stops() -> None:
    clock = FakeClock()
    server = phases_server(clock)

    outcome = search([phase(1, 60, 20)], max_invocations_per_minute=9_000).run(server, 600, clock=clock)

    assert server.users == [1, 3]
    assert outcome.stop_reason.startswith("Reached max_invocations_per_minute (9,000)")


def test_a_looser_latency_threshold_runs_past_the_sla_but_the_answer_stays_within_it() -> None:
    clock = FakeClock()
    server = phases_server(clock, slots=64, service_ms=10.0, contention_ms_per_user=1.0)

    outcome = search([phase(1, 300, 60)], sla_ms=40.0, latency_threshold_ms=60.0).run(server, 600, clock=clock)

    # p95 at 31 users 49.2 ms (over the SLA, under the threshold), at 41 users 61.2 ms (over both).
    assert server.users == [1, 11, 21, 31, 41]
    assert [p.passed for p in outcome.probes] == [True, True, True, False, False]
    assert outcome.stop_reason == (
        "Stopped in phase 1 of 1 at 8 s (41 users): p95 latency 61.2 ms exceeded the 60 ms latency threshold "
        "(load.stop.latency_ms)."
    )
    assert outcome.sustainable_rps == pytest.approx(21 / 0.031, rel=1e-3)


def test_a_tighter_latency_threshold_stops_before_the_sla_breaks() -> None:
    clock = FakeClock()
    server = phases_server(clock, slots=64, service_ms=10.0, contention_ms_per_user=1.0)

    outcome = search([phase(1, 300, 60)], sla_ms=40.0, latency_threshold_ms=20.0).run(server, 600, clock=clock)

    assert server.users == [1, 11]  # 11 users: 25.2 ms, within the SLA but over the threshold
    assert outcome.probes[-1].passed
    assert "exceeded the 20 ms latency threshold" in outcome.stop_reason
    assert outcome.sustainable_rps == pytest.approx(11 / 0.021, rel=1e-3)


def test_all_requests_failing_stops_with_no_answer() -> None:
    clock = FakeClock()
    server = phases_server(clock, error_rate=lambda users: 1.0)

    outcome = search([phase(1, 60, 20)], latency_threshold_ms=60_000.0).run(server, 600, clock=clock)

    assert server.users == [1]
    assert "error rate 100.0% exceeded the 1.0% limit" in outcome.stop_reason
    assert outcome.sustainable_rps == 0.0
    assert outcome.latency_at_sustainable is None


def test_answer_is_the_best_passing_slice_not_the_last() -> None:
    clock = FakeClock()
    server = phases_server(clock, slots=4, service_ms=20.0)  # 50 rps per user up to 4 users, then 200 rps

    outcome = search([phase(1, 120, 6), phase(2, 0, 2)]).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 5, 9, 2]
    assert [p.rps for p in outcome.probes] == pytest.approx([50.0, 200.0, 200.0, 100.0])
    assert all(p.passed for p in outcome.probes)
    assert outcome.sustainable_rps == pytest.approx(200.0)
    assert outcome.latency_at_sustainable is not None
    assert outcome.latency_at_sustainable.p95 == pytest.approx(30.0)  # the 5-user slice, first at 200 rps


# --- the time budget -----------------------------------------------------------------------------------------


def test_never_starts_a_slice_that_does_not_fit_the_budget() -> None:
    clock = FakeClock()
    server = phases_server(clock, settle_seconds=1.0)  # the first 4 s slice costs 5 s, later ones 4 s

    outcome = search([phase(1, 60, 40)], step_seconds=4.0).run(server, budget_seconds=12.0, clock=clock)

    assert server.users == [1, 5]
    assert clock.now == pytest.approx(9.0)
    assert outcome.stop_reason == (
        "Time budget exhausted: the next slice (phase 1 of 1 at 8 s (9 users), ~4.0 s) would not fit in the "
        "remaining 3.0 s."
    )
    assert outcome.sustainable_rps == pytest.approx(250.0)


def test_a_phase_start_is_budgeted_with_its_settle_time() -> None:
    clock = FakeClock()
    server = phases_server(clock, settle_seconds=3.0)  # a phase's first 4 s slice costs 7 s, the others 4 s
    # Phase 1: slices at 0 s (7 s) and 4 s (4 s); phase 2's first slice then needs ~7 s, not the last slice's 4 s.
    outcome = search([phase(1, 0, 8), phase(2, 0, 8)], step_seconds=4.0).run(server, budget_seconds=16.0, clock=clock)

    assert server.users == [1, 1]
    assert clock.now == pytest.approx(11.0)
    assert "(phase 2 of 2 at 0 s (2 users), ~7.0 s) would not fit in the remaining 5.0 s" in outcome.stop_reason


def test_budget_counts_time_already_on_the_clock() -> None:
    clock = FakeClock(now=100.0)
    server = phases_server(clock, settle_seconds=1.0)

    outcome = search([phase(1, 0, 40)], step_seconds=4.0).run(server, budget_seconds=12.0, clock=clock)

    assert len(outcome.probes) == 2
    assert clock.now <= 112.0


def test_no_probe_when_the_budget_is_below_one_slice() -> None:
    clock = FakeClock()
    server = phases_server(clock)

    outcome = search([phase(1, 0, 10)], step_seconds=4.0).run(server, budget_seconds=3.0, clock=clock)

    assert server.calls == []
    assert outcome.probes == []
    assert outcome.sustainable_rps == 0.0
    assert outcome.stop_reason.startswith("Time budget exhausted: the next slice (phase 1 of 1 at 0 s (1 user)")


# --- plumbing ------------------------------------------------------------------------------------------------


def test_reports_each_slice_to_the_callback_in_order() -> None:
    clock = FakeClock()
    seen: list[ProbeRecord] = []

    outcome = search([phase(1, 60, 6)]).run(phases_server(clock), 600, clock=clock, on_probe=seen.append)

    assert seen == outcome.probes
    assert [r.index for r in seen] == [0, 1, 2]
    assert [r.note for r in seen] == [
        "phase 1 of 1 at 0 s (1 user)",
        "phase 1 of 1 at 2 s (3 users)",
        "phase 1 of 1 at 4 s (5 users)",
    ]


def test_strategy_for_phases_mode_builds_phases_search() -> None:
    load = LoadSettings.model_validate(
        {
            "mode": "phases",
            "step_seconds": 3,
            "max_users": 20,
            "phases": [{"initial_users": 2, "spawn_rate_per_minute": 20, "duration_seconds": 9}],
            "stop": {"max_invocations_per_minute": 6000, "latency_ms": 80},
        }
    )

    strategy = strategy_for(load, LatencySla(percentile="p99", milliseconds=50.0), 0.02)

    assert isinstance(strategy, PhasesSearch)
    assert strategy.check.percentile == "p99"
    assert strategy.check.sla_ms == 50.0
    assert strategy.check.max_error_rate == 0.02
    assert strategy.latency_threshold_ms == 80.0
    assert strategy.max_invocations_per_minute == 6000
    assert [(s.users, s.seconds) for s in strategy.slices] == [(2, 3.0), (3, 3.0), (4, 3.0)]


def test_strategy_for_phases_mode_defaults_the_threshold_to_the_sla() -> None:
    strategy = strategy_for(LoadSettings(mode="phases"), LatencySla(percentile="p95", milliseconds=120.0), 0.01)

    assert isinstance(strategy, PhasesSearch)
    assert strategy.latency_threshold_ms == 120.0
    assert strategy.max_invocations_per_minute is None
    # The default pattern: one 120 s phase from 1 user, 60 new users per minute, in 2 s slices.
    assert len(strategy.slices) == 60
    assert (strategy.slices[0].users, strategy.slices[-1].users) == (1, 119)


@pytest.mark.parametrize(("phases", "step_seconds", "max_users"), [([], 2.0, 8), ([phase(1, 0, 4)], 0.0, 8)])
def test_phases_search_rejects_invalid_settings(phases: list[Phase], step_seconds: float, max_users: int) -> None:
    with pytest.raises(ValueError):
        PhasesSearch(LatencySla(milliseconds=100.0), 0.01, phases, step_seconds, max_users)


# --- the request contract ------------------------------------------------------------------------------------


def _error_text(document: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse_request(document)
    return str(info.value)


@pytest.mark.parametrize(
    ("load", "field", "rule"),
    [
        ({"mode": "phases", "phases": []}, "load.phases", "mode 'phases' needs at least one phase"),
        (
            {"phases": [{"initial_users": 0, "duration_seconds": 60}]},
            "load.phases.0.initial_users",
            "must be at least 1 (got 0)",
        ),
        (
            {"phases": [{"spawn_rate_per_minute": -1, "duration_seconds": 60}]},
            "load.phases.0.spawn_rate_per_minute",
            "must be at least 0 (got -1)",
        ),
        ({"phases": [{"duration_seconds": 0}]}, "load.phases.0.duration_seconds", "greater than 0"),
        ({"phases": [{"duration_seconds": 4000}]}, "load.phases.0.duration_seconds", "must be at most 3600 (got 4000)"),
        ({"phases": [{"initial_users": 1}]}, "load.phases.0.duration_seconds", "required, but missing"),
        (
            {"phases": [{"duration_seconds": 60, "users": 3}]},
            "load.phases.0.users",
            "unknown field; allowed: initial_users",
        ),
        ({"phases": [{"duration_seconds": 1}] * 21}, "load.phases", "must have at most 20 entries (got 21)"),
        (
            {"stop": {"max_invocations_per_minute": 0}},
            "load.stop.max_invocations_per_minute",
            "must be at least 1 (got 0)",
        ),
        ({"stop": {"latency_ms": -5}}, "load.stop.latency_ms", "greater than 0"),
        ({"mode": "bursty"}, "load.mode", "'phases'"),
    ],
)
def test_bad_phases_settings_name_the_field(demo_request: dict[str, Any], load: dict, field: str, rule: str) -> None:
    message = _error_text({**demo_request, "load": load})
    assert f"{field}:" in message
    assert rule in message


def test_phases_request_is_valid(demo_request: dict[str, Any]) -> None:
    demo_request["load"] = {
        "mode": "phases",
        "phases": [
            {"initial_users": 1, "spawn_rate_per_minute": 60, "duration_seconds": 120},
            {"initial_users": 50, "duration_seconds": 60},
        ],
        "stop": {"max_invocations_per_minute": 30_000},
    }

    load = parse_request(demo_request).load

    assert load.mode == "phases"
    assert [p.spawn_rate_per_minute for p in load.phases] == [60, 0]
    assert load.stop.max_invocations_per_minute == 30_000
    assert load.stop.latency_ms is None
    assert not load.distributed


def test_empty_phases_are_allowed_outside_mode_phases() -> None:
    assert LoadSettings(mode="stepped", phases=[]).phases == []
