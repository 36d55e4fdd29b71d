"""The adaptive search against a simulated server with a known answer: deterministic, fake clock, no sockets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import pytest

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.request import LoadSettings
from rightsizing.models.targets import LatencySla
from rightsizing.search import AdaptiveSearch, ProbeMeasurement, strategy_for
from rightsizing.search.adaptive import Bracket, _Run
from rightsizing.search.base import FailFast, to_record


def _lat(ms: float) -> LatencyPercentiles:
    return LatencyPercentiles(p50=ms * 0.6, p90=ms * 0.9, p95=ms, p99=ms * 1.3)


@dataclass
class SimulatedServer:
    """c slots x service time S. Open loop at rate r: p95 = S / (1 - r/C) below capacity C = c/S, overload above.

    With an SLA of L, the true answer is C * (1 - S/L).
    """

    slots: int = 4
    service_ms: float = 10.0
    now: float = 0.0
    generator_cpu: float = 20.0
    late_share: float = 0.0
    calls: list[tuple[str, float]] = field(default_factory=list)
    fail_fasts: list[FailFast | None] = field(default_factory=list)

    @property
    def capacity(self) -> float:
        return self.slots / (self.service_ms / 1000)

    def clock(self) -> float:
        return self.now

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        self.now += seconds + 0.5
        self.calls.append(("closed", users))
        rps = min(users, self.slots) / (self.service_ms / 1000)
        latency = self.service_ms * max(1.0, users / self.slots)
        n = int(rps * seconds)
        return ProbeMeasurement(users, seconds, n, 0, _lat(latency), self.generator_cpu)

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        self.fail_fasts.append(fail_fast)
        stopped_early = False
        if rate >= self.capacity:
            done, latency = self.capacity, 50 * self.service_ms  # queue grows without bound
        else:
            done, latency = rate, self.service_ms / (1 - rate / self.capacity)
        # Over the SLA, more than 5 % of requests are: a watching probe knows its failure is certain early.
        if fail_fast is not None and latency > fail_fast.sla_ms:
            seconds, stopped_early = min(seconds, 1.0), True
        self.now += seconds + 1.0
        self.calls.append(("open", rate))
        n = int(done * seconds)
        return ProbeMeasurement(
            0,
            seconds,
            n,
            0,
            _lat(latency),
            self.generator_cpu,
            offered_rps=rate,
            late_share=self.late_share,
            window_rps=(done,) * windows,
            window_latencies=(_lat(latency),) * windows,
            stopped_early=stopped_early,
        )


def _search(sla_ms: float = 50.0, **overrides: float) -> AdaptiveSearch:
    settings = {
        "step_seconds": 2.0,
        "warmup_seconds": 1.0,
        "precision": 0.05,
        "min_completions": 400,
        "max_probe_seconds": 6.0,
        "confirm_seconds": 0.0,
        **overrides,
    }  # confirmation: its own tests
    return AdaptiveSearch(LatencySla(milliseconds=sla_ms), 0.01, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("slots", "service_ms", "sla_ms"), [(4, 10.0, 50.0), (1, 20.0, 100.0), (16, 15.0, 30.0)])
def test_adaptive_finds_the_true_sla_rate_within_precision(slots: int, service_ms: float, sla_ms: float) -> None:
    server = SimulatedServer(slots=slots, service_ms=service_ms)
    truth = server.capacity * (1 - service_ms / sla_ms)
    outcome = _search(sla_ms).run(server, budget_seconds=300, clock=server.clock)
    assert truth * 0.95 <= outcome.sustainable_rps <= truth * 1.001, (outcome.sustainable_rps, truth)
    assert outcome.saturation_rps == pytest.approx(server.capacity, rel=0.01)
    assert "bracketed" in outcome.stop_reason
    assert not outcome.generator_limited


def test_answer_comes_from_open_loop_probes_only() -> None:
    server = SimulatedServer(slots=4, service_ms=10.0)
    outcome = _search(50.0).run(server, budget_seconds=300, clock=server.clock)
    best_open = max((p for p in outcome.probes if p.passed and p.kind == "open"), key=lambda p: p.rps)
    best_closed = max((p for p in outcome.probes if p.passed and p.kind == "closed"), key=lambda p: p.rps)
    assert best_closed.rps > best_open.rps  # closed loop looked better: it hides queueing in the tail
    assert outcome.sustainable_rps == best_open.rps
    assert outcome.probes[0].kind == "warmup" and not outcome.probes[0].passed


def test_warm_up_then_ceiling_then_open_loop_order() -> None:
    server = SimulatedServer()
    _search().run(server, budget_seconds=300, clock=server.clock)
    kinds = [kind for kind, _ in server.calls]
    assert kinds[0] == "closed" and server.calls[0][1] == 1  # warm-up at one user
    first_open = kinds.index("open")
    assert all(k == "closed" for k in kinds[:first_open]) and all(k == "open" for k in kinds[first_open:])


def test_saturated_generator_is_reported_not_taken_as_capacity() -> None:
    server = SimulatedServer(generator_cpu=97.0)
    outcome = _search().run(server, budget_seconds=300, clock=server.clock)
    assert outcome.generator_limited
    assert outcome.sustainable_rps == 0
    assert "generator" in outcome.stop_reason


def test_late_sends_at_every_rate_fall_back_to_a_queue_free_closed_loop_step_as_a_lower_bound() -> None:
    """Open loop never kept its schedule (a busy host): no open-loop probe certifies a rate, so the answer is the
    closed-loop step with concurrency to spare (1 user: 4 users still drew four times its rate), as a lower bound,
    and never the ceiling's 400 RPS (open loop there would meet the queue that closed loop hid)."""
    server = SimulatedServer(slots=4, service_ms=10.0, late_share=0.05)
    outcome = _search().run(server, budget_seconds=300, clock=server.clock)
    open_probes = [p for p in outcome.probes if p.kind == "open"]
    assert open_probes and not any(p.valid or p.passed for p in open_probes)
    rates = [p.target_rps or 0 for p in open_probes]
    assert rates == sorted(rates, reverse=True) and rates[-1] == pytest.approx(100)  # stepped down to the step
    assert outcome.generator_limited and outcome.lower_bound
    assert outcome.sustainable_rps == pytest.approx(100)  # 1 user x 10 ms: a quarter of the capacity
    assert "closed-loop step at 1 users" in outcome.stop_reason and "lower bound" in outcome.stop_reason


def test_late_sends_without_a_queue_free_step_leave_the_capacity_unknown_not_zero() -> None:
    """One slot: one user already saturates it, so no closed-loop step had concurrency to spare; with open loop
    never on schedule there is nothing to certify: a floor of 0, which is no figure (the candidate fails, see
    collect), never the 50 RPS closed-loop step, which open loop would queue at. (30 % of sends late: far more than
    the couple of late sends a short probe may have.)"""
    server = SimulatedServer(slots=1, service_ms=20.0, late_share=0.3)
    outcome = _search(100.0).run(server, budget_seconds=300, clock=server.clock)
    assert outcome.generator_limited and outcome.lower_bound
    assert outcome.sustainable_rps == 0
    assert "capacity is unknown" in outcome.stop_reason


@dataclass
class SlowGeneratorServer(SimulatedServer):
    """The load generator sends on schedule up to ``max_send_rps`` and falls behind above it (30 % of sends late),
    whatever is re-measured: one process, none can be added. Closed loop is unaffected (no schedule to keep)."""

    max_send_rps: float = 250.0

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        m = super().measure_rate(rate, seconds, windows, late_ms, fail_fast)
        return replace(m, late_share=0.3 if rate > self.max_send_rps else 0.0)


def test_a_generator_that_falls_behind_gives_a_lower_bound_not_zero() -> None:
    """The demo's failure: closed loop passed at the ceiling, the first open-loop probe (above what the generator
    could send) was invalid, and the search stopped at 0. It must step down and report the highest valid pass."""
    server = SlowGeneratorServer(slots=4, service_ms=10.0, max_send_rps=250.0)  # truth at 50 ms: 320 RPS
    outcome = _search(50.0).run(server, budget_seconds=300, clock=server.clock)
    assert any(p.kind == "closed" and p.passed and p.rps >= 400 for p in outcome.probes)
    open_probes = [p for p in outcome.probes if p.kind == "open"]
    assert not open_probes[0].valid  # the first SLA probe (396 RPS) was beyond the generator
    assert all(not p.valid for p in open_probes if (p.target_rps or 0) > server.max_send_rps)
    assert outcome.generator_limited and outcome.lower_bound
    assert 250.0 / 1.05 <= outcome.sustainable_rps <= 250.0, outcome.stop_reason  # within precision of the limit
    best = max((p for p in open_probes if p.passed), key=lambda p: p.rps)
    assert best.valid and best.rps == outcome.sustainable_rps  # an open-loop pass, not a closed-loop step
    assert "lower bound" in outcome.stop_reason and "could not offer" in outcome.stop_reason
    invalid = [p.target_rps for p in open_probes if not p.valid]
    assert invalid[0] == invalid[1] and len(set(invalid[1:])) == len(invalid) - 1  # re-measured once, then lower


def test_a_generator_limit_above_the_sla_rate_does_not_make_the_answer_a_bound() -> None:
    """The generator could not send 396 RPS, but a valid probe below that failed the SLA: the endpoint, not the
    generator, set the answer, which is then the ordinary bracketed one."""
    server = SlowGeneratorServer(slots=4, service_ms=10.0, max_send_rps=350.0)
    truth = server.capacity * (1 - 10.0 / 50.0)
    outcome = _search(50.0).run(server, budget_seconds=300, clock=server.clock)
    assert any(not p.valid for p in outcome.probes if p.kind == "open")
    assert not outcome.generator_limited and not outcome.lower_bound
    assert truth * 0.95 <= outcome.sustainable_rps <= truth * 1.001, outcome.stop_reason
    assert "bracketed" in outcome.stop_reason


def test_a_probe_within_the_sla_with_disagreeing_windows_is_re_measured_not_failed() -> None:
    server = SimulatedServer(slots=4, service_ms=10.0)
    original = server.measure_rate
    disturbed: list[float] = []

    def wobbly(
        rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None
    ) -> ProbeMeasurement:
        m = original(rate, seconds, windows, late_ms, fail_fast)
        if disturbed or rate > 0.8 * server.capacity:  # the first probe within the SLA (50 ms: up to 320 RPS)
            return m
        disturbed.append(rate)
        return replace(m, window_rps=(rate, 0.8 * rate, rate))  # within the SLA, throughput windows disagree

    server.measure_rate = wobbly  # type: ignore[method-assign]
    outcome = _search(50.0).run(server, budget_seconds=300, clock=server.clock)
    first = next(p for p in outcome.probes if p.kind == "open" and p.target_rps == round(disturbed[0], 3))
    assert first.remeasured and not first.passed and first.stable is False
    assert first.note.startswith("within the SLA")
    again = outcome.probes[first.index + 1]
    assert again.target_rps == first.target_rps and not again.remeasured


def test_search_stops_within_budget() -> None:
    server = SimulatedServer()
    outcome = _search(max_probe_seconds=6.0).run(server, budget_seconds=20, clock=server.clock)
    assert server.now <= 20 + 7  # at most one probe's overrun beyond a decision made inside the budget
    assert "budget" in outcome.stop_reason.lower() or "bracketed" in outcome.stop_reason


def test_sla_below_service_time_gives_zero() -> None:
    server = SimulatedServer(slots=2, service_ms=40.0)
    outcome = _search(sla_ms=30.0).run(server, budget_seconds=300, clock=server.clock)
    assert outcome.sustainable_rps == 0


def test_bracket_interpolates_and_always_shrinks() -> None:
    # A queue of capacity 200 with 10 ms service: L(r) = 10 / (1 - r/200), so L(100) = 20, L(180) = 100 and the
    # SLA of 50 ms is met up to exactly 160 RPS; the straight line in latency would say 137.5.
    bracket = Bracket(lo=100, lo_latency=20, hi=180, hi_latency=100)
    assert bracket.next_rate(50) == pytest.approx(160)
    far = Bracket(lo=0, lo_latency=13.5, hi=137.6, hi_latency=190.8)  # measured: one user, then far past the knee
    assert far.next_rate(50) == pytest.approx(103.2)  # clamped to 3/4 of the way (a straight line said 34)
    blind = Bracket(lo=100, lo_latency=20, hi=200)  # the ceiling as the top: no latency there, bisection
    assert blind.next_rate(50) == pytest.approx(150)
    edge = Bracket(lo=100, lo_latency=49.9, hi=200, hi_latency=60)
    assert 100 < edge.next_rate(50) <= 175  # clamped inside the middle of the bracket


def test_strategy_for_maps_modes() -> None:
    assert isinstance(strategy_for(LoadSettings(), LatencySla(percentile="p95", milliseconds=50), 0.01), AdaptiveSearch)
    assert (
        type(strategy_for(LoadSettings(mode="ramp"), LatencySla(percentile="p95", milliseconds=50), 0.01)).__name__
        == "RampSearch"
    )
    assert (
        type(strategy_for(LoadSettings(mode="stepped"), LatencySla(percentile="p95", milliseconds=50), 0.01)).__name__
        == "SteppedSearch"
    )


def test_budget_too_short_for_open_loop_gives_a_queue_free_closed_loop_step_as_a_floor() -> None:
    """Not the ceiling's 400 RPS (open loop there meets the queue closed loop hid; the truth is 320): the step at 1
    user, whose quadrupled users still quadrupled the rate, as a lower bound."""
    server = SimulatedServer()
    outcome = _search(max_probe_seconds=6.0).run(server, budget_seconds=5, clock=server.clock)
    assert not any(p.kind == "open" for p in outcome.probes)
    assert "before the open-loop SLA search" in outcome.stop_reason
    assert outcome.lower_bound and not outcome.generator_limited
    assert outcome.sustainable_rps == pytest.approx(100)


def test_time_out_before_any_open_loop_pass_is_a_floor_not_zero() -> None:
    """The first SLA probe failed (past the knee) and the budget ran out before a lower one: 0 would say the
    endpoint serves nothing, though closed loop served 400 RPS within the SLA."""
    server = SimulatedServer(slots=4, service_ms=10.0)
    outcome = _search(50.0).run(server, budget_seconds=8, clock=server.clock)
    open_probes = [p for p in outcome.probes if p.kind == "open"]
    assert len(open_probes) == 1 and not open_probes[0].passed and open_probes[0].valid
    assert outcome.lower_bound and not outcome.generator_limited
    assert outcome.sustainable_rps == pytest.approx(100)  # the queue-free step: 1 user
    assert "before any open-loop rate passed" in outcome.stop_reason and "a lower bound" in outcome.stop_reason
    single = SimulatedServer(slots=1, service_ms=20.0)  # no step with concurrency to spare: no figure
    unknown = _search(100.0).run(single, budget_seconds=10, clock=single.clock)
    assert unknown.lower_bound and unknown.sustainable_rps == 0
    assert "capacity not measured" in unknown.stop_reason


def test_transient_late_sends_are_re_measured_not_reported() -> None:
    server = SimulatedServer()
    original = server.measure_rate
    hiccups = iter([0.2])  # the first open-loop probe is disturbed (another process took the CPU), then fine

    def flaky(
        rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None
    ) -> ProbeMeasurement:
        server.late_share = next(hiccups, 0.0)
        return original(rate, seconds, windows, late_ms, fail_fast)

    server.measure_rate = flaky  # type: ignore[method-assign]
    outcome = _search().run(server, budget_seconds=300, clock=server.clock)
    assert not outcome.generator_limited
    assert any(not p.valid for p in outcome.probes)  # the disturbed probe stays in the trace, marked invalid
    assert outcome.sustainable_rps > 0 and "bracketed" in outcome.stop_reason


def test_a_spike_far_below_the_ceiling_does_not_cap_the_answer() -> None:
    """One window of the first low-rate probe catches a latency spike (GC pause): re-measured, not believed."""
    server = SimulatedServer(slots=4, service_ms=10.0)
    original = server.measure_rate
    spiked: list[float] = []

    def spiky(
        rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None
    ) -> ProbeMeasurement:
        m = original(rate, seconds, windows, late_ms, fail_fast)
        if spiked or rate > 0.78 * server.capacity:  # below SUSPECT_FAILURE_SHARE of the ceiling
            return m
        spiked.append(rate)
        spike = _lat(500.0)
        return ProbeMeasurement(
            m.users,
            m.seconds,
            m.requests,
            m.failures,
            spike,
            m.generator_cpu_percent,
            offered_rps=rate,
            late_share=0.0,
            window_rps=m.window_rps,
            window_latencies=(spike, *m.window_latencies[1:]),
        )

    server.measure_rate = spiky  # type: ignore[method-assign]
    search = _search(50.0)
    outcome = search.run(server, budget_seconds=300, clock=server.clock)
    truth = server.capacity * (1 - 10.0 / 50.0)
    assert spiked, "the scenario must have produced a spike"
    assert outcome.sustainable_rps >= 0.95 * truth, outcome.stop_reason


def test_a_failure_re_measured_with_disagreeing_windows_stays_a_failure() -> None:
    """Near the knee of a noisy server a failing probe's re-measure can pass by luck, its windows disagreeing:
    that second chance must not turn the failure into the answer (it biased the search upwards)."""
    server = SimulatedServer(slots=4, service_ms=10.0)
    original = server.measure_rate
    seen: dict[float, int] = {}

    def noisy(
        rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None
    ) -> ProbeMeasurement:
        m = original(rate, seconds, windows, late_ms, fail_fast)
        if not 0.6 * server.capacity <= rate < 0.8 * server.capacity:  # below SUSPECT_FAILURE_SHARE of the ceiling
            return m
        seen[rate] = seen.get(rate, 0) + 1
        window_p95 = (30.0, 90.0, 40.0) if seen[rate] == 1 else (30.0, 48.0, 40.0)  # first fails, then a lucky pass
        p95 = 60.0 if seen[rate] == 1 else 45.0
        return replace(m, latencies=_lat(p95), stopped_early=False, window_latencies=tuple(_lat(v) for v in window_p95))

    server.measure_rate = noisy  # type: ignore[method-assign]
    outcome = _search(50.0).run(server, budget_seconds=300, clock=server.clock)
    assert seen and all(n == 2 for n in seen.values()), seen  # each was re-measured once
    noisy_rates = {round(rate, 3) for rate in seen}  # the trace keeps rates to 3 decimals
    noisy_records = [p for p in outcome.probes if p.kind == "open" and p.target_rps in noisy_rates]
    assert noisy_records and not any(p.passed for p in noisy_records)
    assert any("not shown to be a spike" in p.note for p in noisy_records)
    assert outcome.sustainable_rps < min(seen), (outcome.sustainable_rps, seen)


@dataclass
class ScalableGeneratorServer(SimulatedServer):
    """Each generator process sends at most ``per_process_rps``; beyond that its CPU saturates and sends go late.
    ``add_generator`` starts one more process, up to ``max_generators`` (distributed mode)."""

    per_process_rps: float = 500.0
    generators: int = 1
    max_generators: int = 4

    def _limit(self) -> float:
        return self.generators * self.per_process_rps

    def add_generator(self) -> bool:
        if self.generators >= self.max_generators:
            return False
        self.generators += 1
        self.calls.append(("add_generator", self.generators))
        return True

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        m = super().measure(users, seconds)
        if m.rps <= self._limit():
            return replace(m, generators=self.generators)
        return replace(m, requests=int(self._limit() * seconds), generator_cpu_percent=97.0, generators=self.generators)

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        m = super().measure_rate(rate, seconds, windows, late_ms, fail_fast)
        late = 0.0 if rate <= self._limit() else 0.3
        return replace(m, late_share=late, generators=self.generators)


def test_a_saturated_generator_gets_more_processes_and_the_true_answer() -> None:
    server = ScalableGeneratorServer(slots=16, service_ms=10.0)  # capacity 1600 RPS; one process sends 500
    truth = server.capacity * (1 - 10.0 / 50.0)
    outcome = _search(50.0).run(server, budget_seconds=600, clock=server.clock)
    assert truth * 0.95 <= outcome.sustainable_rps <= truth * 1.001, outcome.stop_reason
    assert not outcome.generator_limited
    assert server.generators == 4  # 1,280 RPS needs ceil(1280/500) = 3 processes; the ceiling (1,600) needed 4
    best = max((p for p in outcome.probes if p.passed and p.kind == "open"), key=lambda p: p.rps)
    assert best.generators == 4 and best.valid
    assert any(not p.valid and p.generators == 1 for p in outcome.probes)  # what triggered the first scale-out


def test_generator_limit_is_a_lower_bound_when_no_process_can_be_added() -> None:
    server = ScalableGeneratorServer(slots=16, service_ms=10.0, max_generators=2)  # at most 1,000 RPS of load
    outcome = _search(50.0).run(server, budget_seconds=600, clock=server.clock)
    assert outcome.generator_limited and outcome.lower_bound
    assert server.generators == 2
    assert "generator" in outcome.stop_reason
    limit = 2 * server.per_process_rps
    assert limit / 1.05 <= outcome.sustainable_rps <= limit  # never a rate the generator could not send


def test_overloaded_probes_stop_as_soon_as_their_failure_is_certain() -> None:
    watched, unwatched = SimulatedServer(slots=1, service_ms=20.0), SimulatedServer(slots=1, service_ms=20.0)
    fast = _search(100.0).run(watched, budget_seconds=300, clock=watched.clock)
    slow = _search(100.0, fail_fast=False).run(unwatched, budget_seconds=300, clock=unwatched.clock)
    assert fast.sustainable_rps == slow.sustainable_rps  # same probes, same verdicts: only shorter
    rule = watched.fail_fasts[0]
    assert rule is not None and (rule.sla_ms, rule.max_error_rate) == (100.0, 0.01)
    assert rule.over_share == pytest.approx(0.05)
    assert unwatched.fail_fasts == [None] * len(unwatched.fail_fasts)
    stopped = [p for p in fast.probes if "the failure was certain" in p.note]
    assert stopped and all(not p.passed and p.seconds == 1.0 for p in stopped)
    assert watched.now < unwatched.now


@dataclass
class BurstyServer(SimulatedServer):
    """Latency comes in bursts every ``burst_every`` seconds (GC, noisy neighbours): a shorter probe can fall
    between two and pass up to ``lucky`` x the true answer; a longer one catches a burst and fails above it."""

    sla_ms: float = 50.0
    burst_every: float = 5.0
    lucky: float = 1.10

    @property
    def truth(self) -> float:
        return self.capacity * (1 - self.service_ms / self.sla_ms)

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        m = super().measure_rate(rate, seconds, windows, late_ms, None)
        if self.truth < rate <= self.lucky * self.truth and seconds < self.burst_every:
            between = _lat(0.9 * self.sla_ms)
            return replace(m, latencies=between, window_latencies=(between,) * windows)
        return m


@pytest.mark.parametrize("lucky", [1.10, 1.24])
def test_a_long_confirmation_replaces_lucky_short_passes_with_a_rate_that_holds(lucky: float) -> None:
    short, confirmed = BurstyServer(lucky=lucky), BurstyServer(lucky=lucky)
    unconfirmed = _search(50.0).run(short, budget_seconds=300, clock=short.clock)  # no confirmation
    outcome = _search(50.0, confirm_seconds=6.0).run(confirmed, budget_seconds=300, clock=confirmed.clock)
    truth = confirmed.truth
    assert unconfirmed.sustainable_rps > truth * 1.05  # short probes alone over-state it
    # The 6 s probe at the short answer met a burst and failed; the next ones ran one step (5-10 %) lower each
    # until one held: the answer is a long pass, at most one step under the truth.
    assert truth * 0.9 <= outcome.sustainable_rps <= truth, outcome.stop_reason
    long = [p for p in outcome.probes if p.kind == "open" and p.seconds == 6.0]
    assert [p.passed for p in long] == [False] * (len(long) - 1) + [True]
    for before, after in itertools.pairwise(long):
        assert 0.9 - 1e-4 <= (after.target_rps or 0) / (before.target_rps or 1) <= 0.95 + 1e-4  # target_rps is rounded
    assert long[-1].rps == outcome.sustainable_rps
    assert "The answer held for a 6 s probe." in outcome.stop_reason and "had failed one" in outcome.stop_reason
    withdrawn = [p for p in outcome.probes if p.note.startswith("withdrawn")]
    assert withdrawn and all((p.target_rps or 0) >= outcome.sustainable_rps for p in withdrawn)


def test_a_steady_server_confirms_the_answer_at_once() -> None:
    server = SimulatedServer(slots=4, service_ms=10.0)
    steady = SimulatedServer(slots=4, service_ms=10.0)
    plain = _search(50.0).run(steady, budget_seconds=300, clock=steady.clock)
    outcome = _search(50.0, confirm_seconds=6.0).run(server, budget_seconds=300, clock=server.clock)
    assert "The answer held for a 6 s probe." in outcome.stop_reason
    confirmation = outcome.probes[-1]
    assert confirmation.passed and confirmation.seconds == 6.0
    assert outcome.sustainable_rps == pytest.approx(plain.sustainable_rps, rel=0.01)
    assert len(outcome.probes) == len(plain.probes) + 1  # one probe more, nothing withdrawn
    assert not any(p.note.startswith("withdrawn") for p in outcome.probes)


@dataclass
class SpellServer(SimulatedServer):
    """Every probe of ``spell_every`` seconds or more meets a slow spell and fails, at any rate."""

    spell_every: float = 5.0

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        m = super().measure_rate(rate, seconds, windows, late_ms, fail_fast)
        if seconds < self.spell_every:
            return m
        return replace(m, latencies=_lat(500.0), window_latencies=(_lat(500.0),) * windows)


def test_confirmations_stop_after_five_failures_and_say_nothing_held() -> None:
    server = SpellServer()
    outcome = _search(50.0, confirm_seconds=6.0).run(server, budget_seconds=300, clock=server.clock)
    long = [p for p in outcome.probes if p.kind == "open" and p.seconds == 6.0]
    assert len(long) == 5 and not any(p.passed for p in long)
    assert outcome.stop_reason.startswith("Not confirmed: 5 probes of 6 s failed"), outcome.stop_reason
    assert outcome.stop_reason.endswith("no rate held one.")
    assert outcome.sustainable_rps == 0  # every short pass lay above the last long failure: all withdrawn


def test_a_failed_confirmation_steps_by_how_fast_its_queue_grew() -> None:
    """Just past the knee the queue grows slowly: step by the precision. A probe that built a long queue fast
    steps twice as far (a steady overload d builds d seconds of work per second)."""
    search = _search(50.0, confirm_seconds=6.0)
    run = _Run(search, SimulatedServer(), deadline=1e9, clock=lambda: 0.0, on_probe=None)
    gentle = ProbeMeasurement(0, 10.0, 3000, 0, _lat(60.0), 20.0, offered_rps=300.0)
    steep = ProbeMeasurement(0, 2.0, 600, 0, _lat(800.0), 20.0, offered_rps=300.0)
    assert run._step_after(to_record(0, gentle, False, "")) == pytest.approx(0.05)
    assert run._step_after(to_record(1, steep, False, "")) == pytest.approx(0.10)


def test_no_confirmation_when_the_answer_probe_was_already_that_long() -> None:
    """At ~40 RPS, 400 completions take 10 s (capped at 6): the answer's own probe is as long as a confirmation."""
    server = SimulatedServer(slots=1, service_ms=20.0)
    outcome = _search(100.0, confirm_seconds=6.0).run(server, budget_seconds=300, clock=server.clock)
    assert outcome.sustainable_rps > 0 and "held" not in outcome.stop_reason
    assert all(p.seconds == 6.0 for p in outcome.probes if p.kind == "open" and not p.note.startswith("p95"))


def test_no_time_for_the_confirmation_is_said() -> None:
    server, plain = SimulatedServer(slots=4, service_ms=10.0), SimulatedServer(slots=4, service_ms=10.0)
    used = _search(50.0).run(plain, budget_seconds=300, clock=plain.clock)
    outcome = _search(50.0, confirm_seconds=30.0, max_probe_seconds=30.0).run(
        server, budget_seconds=plain.now + 5, clock=server.clock
    )
    assert outcome.sustainable_rps == pytest.approx(used.sustainable_rps, rel=0.01)
    assert "Not confirmed by a 30 s probe: no time left." in outcome.stop_reason


def test_a_probe_floor_longer_than_the_bursts_stops_short_passes_over_stating_the_answer() -> None:
    """A ``min_probe_seconds`` longer than the bursts keeps every open-loop probe long enough to meet one,
    so a rate only a short probe could pass is never the answer, without any confirmation."""
    short, floored = BurstyServer(lucky=1.24), BurstyServer(lucky=1.24)
    unfloored = _search(50.0, max_probe_seconds=30.0).run(short, budget_seconds=300, clock=short.clock)
    outcome = _search(50.0, max_probe_seconds=30.0, min_probe_seconds=6.0).run(
        floored, budget_seconds=300, clock=floored.clock
    )
    assert unfloored.sustainable_rps > short.truth * 1.05  # 400 completions at ~300 RPS: 3 s probes
    assert floored.truth * 0.95 <= outcome.sustainable_rps <= floored.truth, outcome.stop_reason
    assert all(p.seconds >= 6.0 or not p.passed for p in outcome.probes if p.kind == "open")


def test_the_request_model_carries_the_probe_floor_and_confirmation_to_the_search() -> None:
    default = strategy_for(LoadSettings(), LatencySla(percentile="p95", milliseconds=50.0), 0.01)
    assert isinstance(default, AdaptiveSearch) and default.min_probe_seconds == 1.0  # a clear pass's floor
    raised = strategy_for(LoadSettings(min_probe_seconds=8), LatencySla(percentile="p95", milliseconds=50.0), 0.01)
    assert isinstance(raised, AdaptiveSearch) and raised.min_probe_seconds == 8.0
    with pytest.raises(ValueError, match="min_probe_seconds"):
        LoadSettings(min_probe_seconds=0.5)
    assert default.confirm_seconds == 0.0  # off unless asked for (docs/load-search.md, "Why these defaults")
    confirmed = strategy_for(LoadSettings(confirm_seconds=20), LatencySla(percentile="p95", milliseconds=50.0), 0.01)
    assert isinstance(confirmed, AdaptiveSearch) and confirmed.confirm_seconds == 20.0
    with pytest.raises(ValueError, match="confirm_seconds"):
        LoadSettings(confirm_seconds=-1)


@dataclass
class UnderReadCeilingServer(SimulatedServer):
    """Its short closed-loop steps read only ``closed_share`` of the capacity (a slow spell during them, or the
    client's gap between one user's requests), while open loop is served at full capacity."""

    closed_share: float = 0.8

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        m = super().measure(users, seconds)
        return replace(m, requests=int(m.requests * self.closed_share))


def test_an_under_read_ceiling_does_not_cap_the_answer() -> None:
    server = UnderReadCeilingServer(slots=4, service_ms=10.0)
    sla_ms = 200.0
    truth = server.capacity * (1 - server.service_ms / sla_ms)  # 380 RPS, above the ceiling's 320 (+10 %: 352)
    outcome = _search(sla_ms).run(server, budget_seconds=300, clock=server.clock)
    closed = max(p.rps for p in outcome.probes if p.kind == "closed")
    assert closed * 1.1 < truth * 0.95  # the ceiling's margin alone would have capped the answer 7 % low
    assert truth * 0.95 <= outcome.sustainable_rps <= truth * 1.001, outcome.stop_reason
    assert "fails" in outcome.stop_reason
