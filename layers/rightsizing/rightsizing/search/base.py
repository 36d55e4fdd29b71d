"""The seam between load *searches* (which user counts to try, when to stop) and load *probes* (how to measure one).

Everything here is pure: no Locust, no boto3, no sleeping. A search drives any ``LoadProbe`` (Locust in the load
generator, a simulated server in the tests) and reads time only through the ``clock`` it is given, so a search can be
tested deterministically. The strategies share their bookkeeping through ``session.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict, Unpack

from rightsizing.models.common import PERCENTILE_FRACTIONS, LatencyPercentiles, Percentile
from rightsizing.models.result import ProbeKind, ProbeRecord
from rightsizing.models.targets import LatencySla
from rightsizing.models.trials import TrialStats

# Above this share of one core, the single-process (gevent) generator itself is likely the bottleneck.
GENERATOR_CPU_LIMIT_PERCENT = 90.0

Clock = Callable[[], float]
ProbeCallback = Callable[[ProbeRecord], None]


@dataclass(frozen=True)
class ProbeMeasurement:
    """What one probe measured: requests that *completed* inside its measured window.

    ``latencies`` summarises successful requests only (failures are counted by ``error_rate`` instead, so a fast
    error page cannot make latency look good). ``rps`` is the successful-completion rate (goodput).
    """

    users: int
    seconds: float
    requests: int
    failures: int
    latencies: LatencyPercentiles | None
    generator_cpu_percent: float | None = None
    # Open loop only: the offered arrival rate, the share of sends that left late, and per-window figures
    # (completions/s and latency percentiles) for the stability check.
    offered_rps: float | None = None
    late_share: float | None = None
    window_rps: tuple[float, ...] = ()
    window_latencies: tuple[LatencyPercentiles | None, ...] = ()
    generators: int = 1  # processes whose figures were merged (distributed mode); CPU is the busiest one's
    # Open loop: the probe ended before its planned length because its failure was already certain (FailFast).
    stopped_early: bool = False

    @property
    def successes(self) -> int:
        return self.requests - self.failures

    @property
    def rps(self) -> float:
        return self.successes / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        # No completion at all is treated as total failure: nothing proves the endpoint answers.
        return self.failures / self.requests if self.requests else 1.0


class LoadProbe(Protocol):
    """Closed loop: ``users`` concurrent users with no think time, measured for ``seconds`` after a short settle.

    ``settle=False`` measures at once: for back-to-back slices of one continuous pattern (``phases``), where the
    growth transient is part of what is measured."""

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement: ...


@dataclass(frozen=True)
class FailFast:
    """When an open-loop probe's failure is *certain*, whatever the rest of it would measure: no statistics.

    A probe plans ``planned`` sends. Its percentile is taken over successful latencies (at most ``planned``), so
    once more than ``(1 - q) * planned`` of them are over the SLA, the q-th percentile is over it too; once more
    than ``max_error_rate * planned`` sends failed, so is the error rate. Two requests of margin cover the
    percentile's interpolation. A probe far past the knee then stops after a second or two instead of running on.
    """

    sla_ms: float
    over_share: float  # 1 - q: the share of latencies allowed above the SLA
    max_error_rate: float
    # Early pass (``passes``): not before this many measured seconds; None: a probe always runs its full length.
    pass_after_seconds: float | None = None

    @classmethod
    def for_check(cls, check: SlaCheck) -> FailFast:
        return cls(check.sla_ms, 1.0 - PERCENTILE_FRACTIONS[check.percentile], check.max_error_rate)

    def certain(self, planned: int, over_sla: int, failed: int) -> bool:
        return over_sla >= self.over_share * planned + 2 or failed >= self.max_error_rate * planned + 2

    def passes(self, matured: int, over_sla: int, failed: int, elapsed: float) -> bool:
        """Whether a probe may stop now as a pass: statistics, unlike ``certain``, so only the time is saved and
        the search still judges what was measured. ``matured``: measured sends scheduled at least one SLA ago, each
        either answered or already over the SLA (``over_sla`` of them, unanswered ones included); ``elapsed``:
        measured seconds so far. The pass is clear once none failed or went over the SLA in at least
        ``early_pass_sends`` matured sends: were the true share over the SLA as large as the percentile allows,
        seeing none would have had a chance below 1 - ``EARLY_PASS_CONFIDENCE``. Any send over the SLA and the probe
        runs its full length: near the knee latencies come in correlated runs (a busy period), so a few over it say
        less than independent samples would."""
        if self.pass_after_seconds is None or elapsed < self.pass_after_seconds or failed > 0 or over_sla > 0:
            return False
        return matured >= self.early_pass_sends

    @property
    def early_pass_sends(self) -> int:
        """Sends that, none over the SLA, make a share over it of ``over_share`` unlikely (59 for p95, 299 for p99)."""
        needed = math.log(1 - EARLY_PASS_CONFIDENCE) / math.log(1 - self.over_share) if self.over_share < 1 else 1
        return max(EARLY_PASS_MIN_SENDS, math.ceil(needed))


# An open-loop probe may stop early as a pass once it is clear at this confidence (``FailFast.passes``), and never
# on fewer measured sends than this (p50 would need only 5).
EARLY_PASS_CONFIDENCE = 0.95
EARLY_PASS_MIN_SENDS = 30


class RateProbe(LoadProbe, Protocol):
    """Open loop as well: requests sent on a fixed schedule of ``rate`` per second whatever the endpoint does,
    latency timed from each request's *scheduled* start (no coordinated omission), measured in ``windows`` equal
    windows after a settle. ``late_ms``: a send leaving later than this counts as late (generator falling behind).
    ``fail_fast``: a probe may end early once its failure is certain (then ``stopped_early`` is set, and its figures
    cover the part measured); a probe that cannot watch its sends live ignores it."""

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement: ...


class ScalableProbe(RateProbe, Protocol):
    """A probe that can add a load-generator process (distributed mode) when the generator was the limit."""

    def add_generator(self) -> bool:
        """Start one more generator process; False when none may be added (``max_workers`` reached)."""
        ...


@dataclass
class SearchOutcome:
    probes: list[ProbeRecord]
    sustainable_rps: float
    saturation_rps: float
    latency_at_sustainable: LatencyPercentiles | None
    error_rate_at_sustainable: float | None
    stop_reason: str
    generator_limited: bool = False
    # The answer is a floor, not the capacity: the search ended (the generator was the limit, or time ran out)
    # before it found the capacity, so the endpoint sustains at least ``sustainable_rps`` within the SLA and may
    # sustain more. A floor of 0 is no figure at all: unknown, not zero.
    lower_bound: bool = False
    # Repeated trials (load.trials > 1): each trial's figure and their statistics; sustainable_rps is their mean.
    trials: TrialStats | None = None


@dataclass(frozen=True)
class SlaCheck:
    """The pass rule every strategy shares: latency at the SLA percentile and error rate both within limits."""

    percentile: Percentile
    sla_ms: float
    max_error_rate: float

    @classmethod
    def for_sla(cls, sla: LatencySla, max_error_rate: float) -> SlaCheck:
        return cls(sla.percentile, sla.milliseconds, max_error_rate)

    def verdict(self, measurement: ProbeMeasurement) -> tuple[bool, str]:
        """(passed, why it failed or '')."""
        if measurement.requests == 0:
            return False, f"no request completed in the {measurement.seconds:.1f} s window"
        if measurement.error_rate > self.max_error_rate:
            return False, (
                f"error rate {measurement.error_rate:.1%} exceeded the {self.max_error_rate:.1%} limit "
                f"({measurement.failures} of {measurement.requests} requests failed)"
            )
        if measurement.latencies is None:
            return False, "no successful request to measure latency on"
        observed = measurement.latencies.at(self.percentile)
        if observed > self.sla_ms:
            return False, f"{self.percentile} latency {observed:.1f} ms exceeded the {self.sla_ms:g} ms SLA"
        return True, ""


class ProbeLabels(TypedDict, total=False):
    """How a record is labelled besides its verdict; what is left out takes ``ProbeRecord``'s default (a closed-loop
    probe, windows not compared, valid)."""

    kind: ProbeKind
    stable: bool | None
    valid: bool
    remeasured: bool
    knee_bound_ms: float | None


def to_record(
    index: int, measurement: ProbeMeasurement, passed: bool, note: str = "", **labels: Unpack[ProbeLabels]
) -> ProbeRecord:
    return ProbeRecord(
        index=index,
        users=measurement.users,
        seconds=round(measurement.seconds, 3),
        requests=measurement.requests,
        failures=measurement.failures,
        rps=round(measurement.rps, 3),
        error_rate=round(measurement.error_rate, 6),
        latency_ms=measurement.latencies,
        generator_cpu_percent=(
            None if measurement.generator_cpu_percent is None else round(measurement.generator_cpu_percent, 1)
        ),
        passed=passed,
        note=note,
        target_rps=None if measurement.offered_rps is None else round(measurement.offered_rps, 3),
        late_share=None if measurement.late_share is None else round(measurement.late_share, 6),
        generators=measurement.generators,
        stopped_early=measurement.stopped_early,
        **labels,
    )


def summarize(
    records: Sequence[ProbeRecord],
    stop_reason: str,
    answer_kinds: frozenset[str] | None = None,
    *,
    generator_limited: bool | None = None,
    lower_bound: bool | None = None,
    fallback: ProbeRecord | None = None,
) -> SearchOutcome:
    """Turn probe records into the outcome; shared by every strategy and by a deadline-interrupted search.

    sustainable = best passing probe (0 without one); saturation = best probe at all (the ceiling seen).
    ``generator_limited``: the search's own verdict on whether the generator ended it; without one, the last probe
    decides (CPU saturated, or invalid), and a saturated CPU is added to the stop reason. ``lower_bound``: the answer
    is only a floor (default: whenever the generator was the limit). ``fallback``: the answer when no probe of the
    answer kinds passed (the adaptive search's queue-free closed-loop step when open loop certified no rate).
    """
    measured = [r for r in records if r.kind != "warmup" and r.valid]
    # Once a probe that can certify the SLA ran, only those decide (the adaptive search's closed-loop ceiling
    # probes under-report tail latency; its open-loop probes decide, and an invalid one certifies nothing).
    # A floor comes from those or from ``fallback`` alone, never from another kind that merely passed (a closed-loop
    # step at the ceiling hides the queue open loop would meet).
    attempted = [r for r in records if answer_kinds is not None and r.kind in answer_kinds]
    deciding = [r for r in attempted if r.valid] if attempted or (answer_kinds and lower_bound) else measured
    best_passing = max((r for r in deciding if r.passed), key=lambda r: r.rps, default=None) or fallback
    saturation = max((r.rps for r in measured), default=0.0)
    if generator_limited is None:
        last_cpu = records[-1].generator_cpu_percent if records else None
        cpu_limited = last_cpu is not None and last_cpu > GENERATOR_CPU_LIMIT_PERCENT
        # The search's last word was the generator's: a transient invalid probe that was re-measured fine is not.
        generator_limited = cpu_limited or bool(records and not records[-1].valid)
        if cpu_limited:
            stop_reason += (
                f" The load generator's CPU was at {last_cpu:.0f}% in the last probe (limit "
                f"{GENERATOR_CPU_LIMIT_PERCENT:.0f}%), so the generator, not the endpoint, may have been the limit."
            )
    return SearchOutcome(
        probes=list(records),
        sustainable_rps=best_passing.rps if best_passing else 0.0,
        saturation_rps=saturation,
        latency_at_sustainable=best_passing.latency_ms if best_passing else None,
        error_rate_at_sustainable=best_passing.error_rate if best_passing else None,
        stop_reason=stop_reason,
        generator_limited=generator_limited,
        lower_bound=generator_limited if lower_bound is None else lower_bound,
    )
