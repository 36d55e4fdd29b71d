"""How long the adaptive search takes, and what makes it quick without losing accuracy: deterministic, on a simulated
queue that builds its backlog request by request (``queue_sim``), a fake clock, no sockets."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from queue_sim import QueueServer

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.request import LoadSettings
from rightsizing.models.targets import LatencySla
from rightsizing.search import AdaptiveSearch, ProbeMeasurement, strategy_for
from rightsizing.search.adaptive import _rising, _Run, generator_ok
from rightsizing.search.base import FailFast, to_record


def _defaults(sla_ms: float) -> AdaptiveSearch:
    search = strategy_for(LoadSettings(), LatencySla(milliseconds=sla_ms), 0.01)
    assert isinstance(search, AdaptiveSearch)
    return search


# Known capacities of ~60, ~170 and ~800 RPS (the benchmark's --scales servers) with the request's defaults. The
# bound on simulated seconds is what keeps small capacities as quick as large ones: the search before early passes,
# stable warm-ups and sized steps took 67 s of simulated time at ~60 RPS (58 s on the benchmark), the classic ramp
# ~18 s.
@pytest.mark.parametrize(("slots", "service_ms", "most_seconds"), [(3, 50.0, 8.0), (2, 11.9, 8.0), (8, 10.9, 9.0)])
def test_fixed_service_capacities_are_found_within_precision_in_seconds(
    slots: int, service_ms: float, most_seconds: float
) -> None:
    server = QueueServer(slots, service_ms)
    outcome = _defaults(100.0).run(server, budget_seconds=600, clock=server.clock)
    truth = server.truth(100.0)
    assert truth * 0.95 <= outcome.sustainable_rps <= truth * 1.02, (outcome.sustainable_rps, truth)
    assert "bracketed" in outcome.stop_reason
    assert server.now <= most_seconds, server.now
    assert any("the pass was clear" in p.note for p in outcome.probes)  # early passes did the saving


def test_exponential_service_keeps_its_accuracy() -> None:
    """Near the knee of a server with variable service times some requests go over the SLA: no early pass there,
    probes run their planned length (600 completions, 3 s at least) as before."""
    server = QueueServer(8, 10.8, exponential=True, seed=12)
    outcome = _defaults(50.0).run(server, budget_seconds=600, clock=server.clock)
    truth = server.truth(50.0)
    assert truth * 0.95 <= outcome.sustainable_rps <= truth * 1.05, (outcome.sustainable_rps, truth)
    near_knee = [p for p in outcome.probes if p.kind == "open" and (p.target_rps or 0) > 0.9 * truth]
    assert near_knee and all(p.seconds >= 3.0 or not p.passed for p in near_knee)


@dataclass
class ColdServer(QueueServer):
    """Slow at first (caches, JIT, a model loaded lazily): ten times the latency at the start, the excess halving
    every ``half_life`` seconds of simulated time."""

    half_life: float = 0.3

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        factor = 1 + 9 * 0.5 ** (self.now / self.half_life)
        m = super().measure(users, seconds, settle=settle)
        if m.latencies is None:
            return m
        slow = LatencyPercentiles(**{k: factor * v for k, v in m.latencies.model_dump().items()})
        return replace(m, latencies=slow, requests=int(m.requests / factor))


def test_warm_up_lasts_until_two_chunks_agree() -> None:
    warm, cold = QueueServer(3, 50.0), ColdServer(3, 50.0)
    quick = _defaults(100.0).run(warm, budget_seconds=600, clock=warm.clock)
    slow = _defaults(100.0).run(cold, budget_seconds=600, clock=cold.clock)
    # Warm: one discarded chunk, then a chunk that agrees with it is the ceiling's one-user step.
    assert [p.kind for p in quick.probes[:2]] == ["warmup", "closed"] and quick.probes[1].users == 1
    # Cold: chunks keep disagreeing, so the whole warm-up is spent and discarded; the first step is measured warm.
    kinds = [p.kind for p in slow.probes]
    assert kinds.count("warmup") >= 2
    assert sum(p.seconds for p in slow.probes if p.kind == "warmup") == pytest.approx(LoadSettings().warmup_seconds)
    first_step = slow.probes[kinds.index("closed")]
    assert first_step.users == 1 and first_step.latency_ms is not None and first_step.latency_ms.p50 < 1.3 * 50
    assert sum(p.seconds for p in quick.probes if p.kind == "warmup") < 0.5


def test_a_steady_slow_endpoint_is_not_held_in_warm_up() -> None:
    cold = ColdServer(3, 50.0, half_life=1e9)  # never warms: ten times slower throughout, chunk to chunk alike
    outcome = _search_with(warmup_seconds=2.0).run(cold, budget_seconds=600, clock=cold.clock)
    warmups = [p for p in outcome.probes if p.kind == "warmup"]
    assert len(warmups) == 1 and outcome.probes[1].kind == "closed" and outcome.probes[1].users == 1


def _search_with(**settings: float) -> AdaptiveSearch:
    search = strategy_for(LoadSettings(**settings), LatencySla(milliseconds=100.0), 0.01)  # type: ignore[arg-type]
    assert isinstance(search, AdaptiveSearch)
    return search


def test_ceiling_steps_last_as_long_as_their_completions_need() -> None:
    run = _Run(_defaults(100.0), QueueServer(3, 50.0), deadline=1e9, clock=lambda: 0.0, on_probe=None)
    one_user = to_record(0, ProbeMeasurement(1, 0.5, 10, 0, _lat(50.0)), True)
    # 4 users at 20 RPS each: 50 completions need 0.62 s; 3 round trips of (at worst) 200 ms need 0.6 s.
    assert run._step_seconds(4, one_user) == pytest.approx(0.625)
    fast = to_record(0, ProbeMeasurement(1, 0.5, 500, 0, _lat(1.0)), True)
    assert run._step_seconds(4, fast) == 0.5  # never shorter than half a second
    slow = to_record(0, ProbeMeasurement(1, 0.5, 1, 0, _lat(1000.0)), True)
    assert run._step_seconds(4, slow) == LoadSettings().step_seconds  # never longer than step_seconds
    assert run._step_seconds(1, None) == LoadSettings().step_seconds  # a first step, unwarmed


def test_a_probe_lasts_long_enough_for_an_overload_of_the_precision_to_break_the_sla() -> None:
    """Offered 5 % over its capacity, an endpoint's latency grows 50 ms a second: with a 1 s SLA and 50 ms of
    service that takes 19 s to show, so a 3 s probe (600 completions at 200 RPS) would pass a rate it cannot hold."""
    search = strategy_for(LoadSettings(), LatencySla(milliseconds=1000.0), 0.01)
    assert isinstance(search, AdaptiveSearch)
    run = _Run(search, QueueServer(10, 50.0), deadline=1e9, clock=lambda: 0.0, on_probe=None)
    assert run._probe_seconds(200.0, 50.0) == pytest.approx(19.0)
    assert run._probe_seconds(200.0, 990.0) == 3.0  # no slack to speak of: the planned floor
    assert run._probe_seconds(1.0, 50.0) == 30.0  # 600 completions at 1 RPS: capped by max_probe_seconds


def test_a_pass_whose_latency_rises_window_by_window_is_a_queue_building() -> None:
    def windows(*p50: float) -> ProbeMeasurement:
        return ProbeMeasurement(
            0, 1.2, 66, 0, _lat(80.0), offered_rps=60.0, window_rps=(60.0,) * 3, window_latencies=tuple(map(_lat, p50))
        )

    assert _rising(windows(58, 70, 84), sla_ms=100.0) == "58 -> 70 -> 84 ms"  # 26 ms of a 42 ms slack
    assert _rising(windows(58, 62, 66), sla_ms=100.0) == ""  # 8 ms: noise, or too slow to matter
    assert _rising(windows(58, 84, 80), sla_ms=100.0) == ""  # not rising window by window
    assert _rising(windows(9, 10, 11), sla_ms=50.0) == ""  # a few ms of queue noise against a 41 ms slack


def test_the_next_probe_aims_at_the_capacity_a_failed_probe_s_queue_growth_implies() -> None:
    """A probe 5 % over the capacity (deterministic service 50 ms, 60 RPS capacity): its latency grew ~50 ms per
    second, so the capacity is about rate / 1.05; a long but steady queue (no growth) says nothing."""
    run = _Run(_defaults(100.0), QueueServer(3, 50.0), deadline=1e9, clock=lambda: 0.0, on_probe=None)
    run.idle_latency = 50.0
    grown = to_record(0, ProbeMeasurement(0, 1.4, 88, 0, _lat(120.0), offered_rps=63.0), False, kind="open")
    assert run._capacity_from_queue(grown) == pytest.approx(63.0 / 1.05, rel=0.001)
    steady = to_record(1, ProbeMeasurement(0, 30.0, 1800, 0, _lat(110.0), offered_rps=60.0), False, kind="open")
    assert run._capacity_from_queue(steady) is None
    assert run._capacity_from_queue(grown.model_copy(update={"passed": True})) is None


def test_a_couple_of_late_sends_do_not_invalidate_a_short_probe() -> None:
    def late(sends: int, late_sends: int) -> ProbeMeasurement:
        return ProbeMeasurement(0, 1.0, sends, 0, _lat(50.0), 20.0, offered_rps=60.0, late_share=late_sends / sends)

    assert generator_ok(late(66, 2))[0]  # 3 %, but two sends: a hiccup on a one-second probe
    assert not generator_ok(late(66, 3))[0]
    assert not generator_ok(late(600, 7))[0]  # 1.2 % of a long probe: the generator set the pace
    assert generator_ok(late(600, 6))[0]


def test_early_passes_are_judged_on_what_was_measured() -> None:
    """The early pass only saves time: the search's verdict is the measured part's, so a probe that stopped early
    has a real sample behind it (at least 59 sends, none over the SLA, for p95) and the usual checks."""
    server = QueueServer(3, 50.0)
    outcome = _defaults(100.0).run(server, budget_seconds=600, clock=server.clock)
    early = [p for p in outcome.probes if "the pass was clear" in p.note]
    assert early and all(p.passed and p.requests >= 59 and p.seconds >= 1.0 for p in early)
    assert all(p.latency_ms is not None and p.latency_ms.p95 <= 100.0 for p in early)


@dataclass
class WatchedServer(QueueServer):
    """Records the early-stop rule each open-loop probe was given."""

    rules: list[FailFast | None] | None = None

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        self.rules = [*(self.rules or []), fail_fast]
        return super().measure_rate(rate, seconds, windows, late_ms, fail_fast)


def test_the_early_pass_rule_reaches_the_pacer_with_its_time_floor() -> None:
    server = WatchedServer(3, 50.0)
    _defaults(100.0).run(server, budget_seconds=600, clock=server.clock)
    # min_probe_seconds (1 s) and the time a 5 % overload needs to break the SLA: (100 - 50.x ms) / 5 % per second.
    assert server.rules and all(
        r is not None and r.pass_after_seconds == pytest.approx(0.98, abs=0.03) for r in server.rules
    )
    off = WatchedServer(3, 50.0)
    strategy_for(LoadSettings(fail_fast=False), LatencySla(milliseconds=100.0), 0.01).run(
        off, budget_seconds=600, clock=off.clock
    )
    assert off.rules and all(r is None for r in off.rules)  # fail_fast off: probes run their full length


def _lat(ms: float) -> LatencyPercentiles:
    return LatencyPercentiles(p50=ms, p90=ms, p95=ms, p99=ms)
