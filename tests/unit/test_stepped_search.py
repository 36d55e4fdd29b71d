"""The stepped search against a simulated server and a fake clock: deterministic, no sockets, no sleeping."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from closed_loop_sim import ClosedLoopServer, FakeClock

from rightsizing.models.request import LoadSettings
from rightsizing.models.result import ProbeRecord
from rightsizing.models.targets import LatencySla
from rightsizing.search import GENERATOR_CPU_LIMIT_PERCENT, ProbeMeasurement, SteppedSearch, strategy_for


def search(**overrides: Any) -> SteppedSearch:
    sla = LatencySla(percentile=overrides.pop("sla_percentile", "p95"), milliseconds=overrides.pop("sla_ms", 1000.0))
    settings: dict[str, Any] = {"sla": sla, "max_error_rate": 0.01, "step_seconds": 4.0}
    settings["max_users"] = 256
    settings.update(overrides)
    return SteppedSearch(**settings)


def test_stepped_search_stops_when_throughput_saturates() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=4, service_ms=20.0)  # capacity 4 / 0.02 s = 200 rps

    outcome = search().run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 2, 4, 8]
    assert outcome.sustainable_rps == pytest.approx(200.0)
    assert outcome.saturation_rps == pytest.approx(200.0)
    assert "saturated" in outcome.stop_reason
    assert outcome.probes[-1].passed  # 8 users met the SLA; they only added queueing
    assert outcome.latency_at_sustainable is not None
    assert outcome.latency_at_sustainable.p95 == pytest.approx(24.0)  # the 4-user probe, first with the best rate
    assert outcome.error_rate_at_sustainable == 0.0
    assert not outcome.generator_limited


def test_stepped_search_stops_at_sla_breach_while_throughput_still_grows() -> None:
    clock = FakeClock()
    # Latency climbs with concurrency: p95 at 16 users = 1.2 * 26 ms = 31.2 ms, at 32 users 1.2 * 42 ms = 50.4 ms.
    server = ClosedLoopServer(clock, slots=64, service_ms=10.0, contention_ms_per_user=1.0)

    outcome = search(sla_ms=40.0).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 2, 4, 8, 16, 32]
    assert [p.passed for p in outcome.probes] == [True] * 5 + [False]
    assert outcome.sustainable_rps == pytest.approx(16 / 0.026, rel=1e-3)
    assert outcome.saturation_rps == pytest.approx(32 / 0.042, rel=1e-3)  # the failing probe was faster
    assert "32 users" in outcome.stop_reason
    assert "p95 latency 50.4 ms exceeded the 40 ms SLA" in outcome.stop_reason
    assert outcome.probes[-1].note.startswith("p95 latency 50.4 ms")


def test_stepped_search_sustainable_zero_when_first_step_fails() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=4, service_ms=20.0)

    outcome = search(sla_ms=5.0).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1]
    assert outcome.sustainable_rps == 0.0
    assert outcome.saturation_rps == pytest.approx(50.0)
    assert outcome.latency_at_sustainable is None
    assert outcome.error_rate_at_sustainable is None
    assert outcome.stop_reason.startswith("Stopped at 1 user:")


def test_stepped_search_stops_before_a_step_that_exceeds_the_budget() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=1000, service_ms=20.0, settle_seconds=1.0)  # each step takes 5 s

    outcome = search(step_seconds=4.0).run(server, budget_seconds=12.0, clock=clock)

    assert server.users == [1, 2]  # a third 5 s step would end at 15 s
    assert clock.now <= 12.0
    assert "Time budget exhausted" in outcome.stop_reason
    assert "4 users" in outcome.stop_reason
    assert outcome.sustainable_rps == pytest.approx(100.0)


def test_stepped_search_makes_no_probe_when_budget_is_below_one_step() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock)

    outcome = search(step_seconds=4.0).run(server, budget_seconds=3.0, clock=clock)

    assert server.users == []
    assert outcome.probes == []
    assert outcome.sustainable_rps == 0.0
    assert outcome.saturation_rps == 0.0
    assert "Time budget exhausted" in outcome.stop_reason


def test_stepped_search_budget_counts_time_already_spent_on_the_clock() -> None:
    clock = FakeClock(now=100.0)  # a monotonic clock does not start at 0
    server = ClosedLoopServer(clock, slots=1000, settle_seconds=1.0)

    outcome = search(step_seconds=4.0).run(server, budget_seconds=12.0, clock=clock)

    assert len(outcome.probes) == 2
    assert clock.now <= 112.0


def test_stepped_search_caps_users_at_max_users() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=1000, service_ms=20.0)  # never saturates in range

    outcome = search(max_users=6).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 2, 4, 6]
    assert "max_users (6)" in outcome.stop_reason
    assert outcome.sustainable_rps == pytest.approx(300.0)


def test_stepped_search_single_user_cap_makes_one_probe() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock)

    outcome = search(max_users=1).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1]
    assert outcome.sustainable_rps == pytest.approx(50.0)


def test_stepped_search_stops_when_error_rate_exceeds_limit() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=1000, error_rate=lambda users: 0.05 if users >= 4 else 0.0)

    outcome = search(max_error_rate=0.01).run(server, budget_seconds=600, clock=clock)

    assert server.users == [1, 2, 4]
    assert not outcome.probes[-1].passed
    assert outcome.probes[-1].error_rate == pytest.approx(0.05, abs=0.001)
    assert "error rate 5.0% exceeded the 1.0% limit" in outcome.stop_reason
    assert outcome.sustainable_rps == pytest.approx(100.0)
    assert outcome.error_rate_at_sustainable == 0.0


def test_stepped_search_passes_error_rate_at_the_limit() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=4, error_rate=lambda users: 0.01)

    outcome = search(max_error_rate=0.01).run(server, budget_seconds=600, clock=clock)

    assert all(p.passed for p in outcome.probes)
    assert outcome.error_rate_at_sustainable == pytest.approx(0.01, abs=1e-3)


def test_stepped_search_fails_probe_with_all_requests_failed() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, error_rate=lambda users: 1.0)

    outcome = search().run(server, budget_seconds=600, clock=clock)

    assert server.users == [1]
    assert outcome.sustainable_rps == 0.0
    assert outcome.saturation_rps == 0.0  # rps counts successful completions only
    assert outcome.probes[0].error_rate == 1.0
    assert outcome.probes[0].latency_ms is None


class SilentProbe:
    """An endpoint that never answers inside the window."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def measure(self, users: int, seconds: float) -> ProbeMeasurement:
        self.clock.now += seconds
        return ProbeMeasurement(users, seconds, requests=0, failures=0, latencies=None)


def test_stepped_search_fails_probe_without_completed_requests() -> None:
    clock = FakeClock()

    outcome = search().run(SilentProbe(clock), budget_seconds=600, clock=clock)

    assert len(outcome.probes) == 1
    assert not outcome.probes[0].passed
    assert "no request completed" in outcome.stop_reason
    assert outcome.sustainable_rps == 0.0


def test_stepped_search_flags_generator_limited_when_last_probe_cpu_high() -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=4, cpu_percent=lambda users: 95.0 if users >= 8 else 40.0)

    outcome = search().run(server, budget_seconds=600, clock=clock)

    assert outcome.probes[-1].generator_cpu_percent == 95.0
    assert outcome.generator_limited
    assert "generator" in outcome.stop_reason
    assert "95%" in outcome.stop_reason


@pytest.mark.parametrize("cpu", [None, 50.0, GENERATOR_CPU_LIMIT_PERCENT])
def test_stepped_search_not_generator_limited_when_cpu_low_or_unknown(cpu: float | None) -> None:
    clock = FakeClock()
    server = ClosedLoopServer(clock, slots=4, cpu_percent=lambda users: cpu)

    outcome = search().run(server, budget_seconds=600, clock=clock)

    assert not outcome.generator_limited
    assert "generator" not in outcome.stop_reason


def test_stepped_search_reports_each_probe_to_callback_in_order() -> None:
    clock = FakeClock()
    seen: list[ProbeRecord] = []

    outcome = search().run(ClosedLoopServer(clock), budget_seconds=600, clock=clock, on_probe=seen.append)

    assert seen == outcome.probes
    assert [r.index for r in seen] == list(range(len(seen)))
    assert [r.users for r in seen] == [1, 2, 4, 8]


def test_stepped_search_stops_when_throughput_drops() -> None:
    clock = FakeClock()
    # Past 4 users the server thrashes: throughput falls although latency still meets the loose SLA.
    server = ClosedLoopServer(clock, slots=1000, service_ms=20.0)
    drop = ClosedLoopServer(clock, slots=2, service_ms=40.0)

    class Thrashing:
        def measure(self, users: int, seconds: float) -> ProbeMeasurement:
            return (server if users <= 4 else drop).measure(users, seconds)

    outcome = search().run(Thrashing(), budget_seconds=600, clock=clock)

    assert [p.users for p in outcome.probes] == [1, 2, 4, 8]
    assert outcome.sustainable_rps == pytest.approx(200.0)
    assert "saturated" in outcome.stop_reason


def test_probe_measurement_rps_counts_successes_only() -> None:
    measurement = ProbeMeasurement(users=2, seconds=2.0, requests=100, failures=10, latencies=None)
    assert measurement.rps == pytest.approx(45.0)
    assert measurement.error_rate == pytest.approx(0.1)


def test_probe_measurement_without_requests_counts_as_all_failed() -> None:
    assert ProbeMeasurement(users=1, seconds=1.0, requests=0, failures=0, latencies=None).error_rate == 1.0


def test_strategy_for_stepped_mode_builds_stepped_search() -> None:
    strategy = strategy_for(
        LoadSettings(mode="stepped", step_seconds=2, max_users=32),
        LatencySla(percentile="p99", milliseconds=250.0),
        0.02,
    )

    assert isinstance(strategy, SteppedSearch)
    assert strategy.step_seconds == 2
    assert strategy.max_users == 32
    assert strategy.check.percentile == "p99"
    assert strategy.check.sla_ms == 250.0
    assert strategy.check.max_error_rate == 0.02


@pytest.mark.parametrize(("step_seconds", "max_users"), [(0.0, 8), (1.0, 0)])
def test_stepped_search_rejects_invalid_settings(step_seconds: float, max_users: int) -> None:
    with pytest.raises(ValueError):
        SteppedSearch(LatencySla(milliseconds=100.0), 0.01, step_seconds, max_users)


def test_search_and_stats_import_without_locust_or_gevent() -> None:
    # Importing Locust monkey-patches the process; the pure logic must never pull it in (fresh interpreter).
    code = (
        "import sys, rightsizing.search, rightsizing.stats; "
        "bad = [m for m in ('locust', 'gevent', 'boto3') if m in sys.modules]; "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
