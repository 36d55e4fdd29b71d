"""Adaptive search: the highest *arrival rate* the endpoint serves within the SLA, to a stated precision.

Every phase lasts what its statistics need at the endpoint's own pace, not a fixed number of seconds, so a
60 RPS endpoint is measured about as quickly as an 800 RPS one (docs/load-search.md).

1. Warm-up at one user (discarded): caches, JIT, connection pools; in chunks of a few round trips until two agree
   on the median latency (at most ``warmup_seconds``). The steady chunk is the ceiling's first step.
2. Ceiling, closed loop: users 1, 4, 16, … (x2 once throughput per user falls) until throughput grows < 5 %,
   errors pass the limit or throughput per user drops by a quarter (saturated); each step as long as ~50
   completions and a few round trips take. Fast, and it bounds the search: open loop starts at X_max and looks
   past X_max + 10 % only once a probe there passes.
3. SLA search, open loop: fixed-rate probes (latency timed from each request's scheduled start) inside
   [0, 1.1 X_max], and above it once a probe at the top passes. A probe passes when its latency at the SLA
   percentile and its error rate are within limits and it kept up with the offered rate (a pass whose median
   latency rises window by window is a queue building: a failure); it is *invalid* (not failed) when the
   generator sent > 1 % late (more than a couple of sends) or its CPU passed 90 %: then the probe adds a generator
   process if it can (``ScalableProbe``) and measures again, else the search lowers the rate below what the
   generator could not offer (``_GeneratorTop``); if the generator bounds the bracket, the answer is a lower bound,
   never 0 while a lower rate passed. A probe is planned long enough for ``min_completions`` and for an overload of
   the precision to break the SLA; it ends as soon as its failure is certain or its pass clear (``FailFast``). The
   next rate interpolates where latency crosses the SLA between the bracket's ends (1/latency linear in the rate,
   as in a queue), falling back to bisection, or aims at the capacity a failed probe's queue growth implies; the
   search stops when (first failing - last passing) / last passing <= precision.
4. Confirmation (``confirm_seconds``): one long probe at the answer, since short probes can pass a rate that a
   server whose speed varies over seconds does not hold for half a minute; after a failure, long probes step
   down until one holds (``_confirm``).

Closed loop alone under-reports tail latency (users wait for each other); open loop is the honest test of
"at λ RPS, p95 <= SLA". See shared measurement notes: stability = 3 windows within 10 %.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from rightsizing.models.common import Percentile
from rightsizing.models.result import ProbeKind, ProbeRecord
from rightsizing.models.targets import LatencySla
from rightsizing.search.base import (
    GENERATOR_CPU_LIMIT_PERCENT,
    Clock,
    FailFast,
    ProbeCallback,
    ProbeMeasurement,
    RateProbe,
    SearchOutcome,
    SlaCheck,
)
from rightsizing.search.session import ProbeSession, SearchStrategy

MIN_THROUGHPUT_GAIN = 0.05  # ceiling: below this gain, more users only queue
KEEP_UP_RATIO = 0.95  # an open-loop probe completing < 95 % of the offered rate is falling behind (overloaded)
MAX_LATE_SHARE = 0.01  # more late sends than this and the generator, not the endpoint, set the pace
LATE_SENDS_GRACE = 2.5  # ...unless they are this few
STABILITY_TOLERANCE = 0.10  # windows within 10 % of each other (perf_analyzer's rule)
RISE_SHARE = 0.3  # a passing probe's median rising by this share of the slack, window by window: a queue building
WINDOWS = 3
MAX_EXTENSIONS = 1  # an unstable passing probe is measured once more before it is believed
CEILING_MARGIN = 1.10  # the bracket's first top: the closed-loop ceiling plus its measurement noise
MIN_WINDOW_SECONDS = 1 / 3  # a clear pass may stop after three such windows (min_probe_seconds' floor)
# A probe plans at least this long (three 1 s windows) whatever its rate: near the knee, where no early pass is
# clear and the full length decides, a fast endpoint's tail needs seconds of samples, not only min_completions.
PLANNED_MIN_SECONDS = 3.0
# Warm-up (one user): chunks of at least this long and ~WARMUP_CHUNK_LATENCIES requests, until two in a row agree on
# the median latency within WARMUP_AGREEMENT (or warmup_seconds is used up); the steady chunk is the first
# ceiling step.
WARMUP_CHUNK_SECONDS = 0.25
WARMUP_CHUNK_LATENCIES = 12
WARMUP_AGREEMENT = 0.25  # a cold start is typically twice as slow; a median of ~10-50 requests is noisy
# Ceiling steps: long enough for ~STEP_COMPLETIONS completions and STEP_LATENCIES round trips of each user, at least
# MIN_STEP_SECONDS, at most step_seconds.
STEP_COMPLETIONS = 50
STEP_LATENCIES = 3
MIN_STEP_SECONDS = 0.5
# A step whose throughput per user fell below this share of the previous step's had its users queueing for a fifth
# of their time or more: the endpoint is saturated, more users only queue (the ceiling ends there). Not closer to 1:
# a half-second step's throughput per user is noisy by ~10 % when service times vary.
SATURATED_PER_USER = 0.8
# While throughput per user holds (no queueing yet), users grow x4 per step instead of x2: fewer steps to the knee.
LINEAR_PER_USER = 0.9
START_SHARE_OF_CEILING = 1 / CEILING_MARGIN  # the ceiling itself (see _sla_search)
# A probe runs long enough that an overload of this share of the precision pushes latency past the SLA (its queue
# grows by the overload in seconds of work per second): a shorter one could pass a rate the endpoint cannot hold.
OVERLOAD_SHARE = 1.0
# A failed probe whose latency grew by at least this share of the precision per second had a queue growing: its
# growth estimates the capacity (_capacity_from_queue); slower growth is as likely a long but steady queue.
QUEUE_GROWTH_SHARE = 0.5
EARLY_LABEL_SHARE = 0.95  # an early pass is labelled as one only when it saved more than a few per cent
# A failure with disagreeing windows this far below the throughput ceiling is more likely a latency spike than
# overload (real servers have GC pauses, noisy neighbours): re-measure it once before it caps the bracket for good.
SUSPECT_FAILURE_SHARE = 0.8
MIN_INTERPOLATION_SHARE = 0.25  # the next rate stays inside the middle half of the bracket: it always shrinks
MAX_CONFIRMATIONS = 5  # long probes at the answer, then up to 4 steps below it (~20 % at 5 % precision)
MAX_CONFIRM_STEP = 2.0  # a failed confirmation's step down: precision, up to this many x precision when it failed hard
GENERATOR_STEP_DOWN = 0.7  # below a rate the generator could not offer, before any open-loop pass: 30 % lower
# A closed-loop step whose next step (at least twice the users) still drew this share of twice its rate per user had
# idle concurrency to spare: at its rate open loop meets no queue either, so it may stand for an open-loop pass.
QUEUE_FREE_SHARE = 0.9
WITHDRAWN = "withdrawn:"  # how the note of a pass a failed confirmation withdrew starts


@dataclass
class Bracket:
    """Highest passing and lowest failing open-loop rate, with the latency seen at each."""

    lo: float = 0.0
    lo_latency: float | None = None
    hi: float = math.inf
    hi_latency: float | None = None
    hi_measured: bool = False  # False while ``hi`` is only the closed-loop ceiling's estimate, not a failed probe
    raised: int = 0  # passes at or above an estimated top so far

    def add(self, passed: bool, rate: float, rps: float, latency: float | None) -> None:
        """A pass raises the lower end; a failure lowers the top, which is then a measured one. A pass at a top that
        is still the closed-loop ceiling's estimate moves the top up: short closed-loop steps under-read the ceiling
        (a slow spell, the client's gap between one user's requests), so look above it rather than report it; each
        time further (10 %, 20 %, 40 %, ...), since the estimate was evidently off."""
        if not passed:
            self.hi, self.hi_latency, self.hi_measured = min(self.hi, rate), latency, True
            return
        if rps > self.lo:
            self.lo, self.lo_latency = rps, latency
        if not self.hi_measured and rate >= self.hi:
            self.hi = rate * (1 + (CEILING_MARGIN - 1) * 2**self.raised)
            self.raised += 1

    def width(self) -> float:
        """(hi - lo) / lo, rounded to 1e-9: a probe placed exactly one precision step above a pass closes it."""
        return round((self.hi - self.lo) / self.lo, 9) if self.lo > 0 else math.inf

    def next_rate(self, sla_ms: float) -> float:
        """Where latency crosses the SLA if 1/latency falls linearly with the rate, as in a queue (L ~ S / (1 - r/C)):
        latency's hockey stick near saturation then interpolates well, where a straight line in latency lands far
        too low. Bisection when the ends give no usable slope; always inside the middle half of the bracket."""
        lo_lat, hi_lat = self.lo_latency, self.hi_latency
        share = 0.5
        if lo_lat is not None and hi_lat is not None and 0 < lo_lat <= sla_ms < hi_lat:
            share = (1 / lo_lat - 1 / sla_ms) / (1 / lo_lat - 1 / hi_lat)
        share = min(1 - MIN_INTERPOLATION_SHARE, max(MIN_INTERPOLATION_SHARE, share))
        return self.lo + share * (self.hi - self.lo)


class AdaptiveSearch(SearchStrategy[RateProbe]):
    def __init__(
        self,
        sla: LatencySla,
        max_error_rate: float,
        *,
        step_seconds: float = 4.0,
        max_users: int = 256,
        warmup_seconds: float = 5.0,
        precision: float = 0.05,
        min_completions: int = 600,
        min_probe_seconds: float = WINDOWS * MIN_WINDOW_SECONDS,
        max_probe_seconds: float = 30.0,
        fail_fast: bool = True,
        confirm_seconds: float = 0.0,
    ) -> None:
        self.check = SlaCheck.for_sla(sla, max_error_rate)
        self.step_seconds = step_seconds
        self.max_users = max_users
        self.warmup_seconds = warmup_seconds
        self.precision = precision
        self.min_completions = min_completions
        self.min_probe_seconds = max(min_probe_seconds, WINDOWS * MIN_WINDOW_SECONDS)
        self.max_probe_seconds = max_probe_seconds
        self.fail_fast = FailFast.for_check(self.check) if fail_fast else None
        self.confirm_seconds = confirm_seconds
        # A send delayed by a tenth of the SLA is late: that much generator lag already distorts the verdict.
        self.late_ms = max(1.0, 0.1 * sla.milliseconds)

    def search(self, probe: RateProbe, session: ProbeSession) -> SearchOutcome:
        # The run is a session itself (its state sits beside the books), on the same deadline, clock and callback.
        run = _Run(self, probe, session.deadline, session.clock, session.on_probe)
        stop_reason = run.search()
        return run.outcome(
            stop_reason,
            answer_kinds=frozenset({"open"}),
            generator_limited=run.generator.limited,
            lower_bound=run.floor,
            fallback=run.queue_free_step() if run.floor else None,
        )


@dataclass
class _GeneratorTop:
    """The lowest open-loop rate the generator could not offer on schedule, even re-measured or scaled out: no
    probe at or above it can certify anything, so it caps the bracket like a failure but proves nothing about the
    endpoint. ``limited`` once it ended the search (the answer is then a lower bound)."""

    rate: float = math.inf
    why: str = ""
    limited: bool = False  # the generator ended the search

    def add(self, rate: float, why: str) -> None:
        if rate <= self.rate:
            self.rate, self.why = rate, why

    @property
    def found(self) -> bool:
        return math.isfinite(self.rate)


class _Run(ProbeSession):
    """One adaptive search: its session's books plus its own state; keeps ``AdaptiveSearch`` reusable and its
    methods short."""

    def __init__(
        self, cfg: AdaptiveSearch, probe: RateProbe, deadline: float, clock: Clock, on_probe: ProbeCallback | None
    ) -> None:
        super().__init__(deadline, clock, on_probe)
        self.cfg, self.probe = cfg, probe
        self.idle_latency: float | None = None  # one user's latency: the bracket's lower end before any open pass
        self.generator = _GeneratorTop()
        # The search ended before it found the capacity (the generator's limit, or the time budget): the answer is
        # only a floor, and a floor of 0 is no figure at all.
        self.floor = False

    def search(self) -> str:
        ceiling, verdict = self._ceiling(self._warm_up())
        if verdict:
            return verdict
        return self._sla_search(ceiling)

    # --- phase 1: warm-up ---------------------------------------------------------------------------------------
    def _warm_up(self) -> _Step | None:
        """One user, in chunks of ~``WARMUP_CHUNK_LATENCIES`` requests, until two chunks in a row agree on the
        median latency, for at most ``warmup_seconds``: an endpoint already warm (caches, connections, JIT) is not
        held for the whole warm-up, one still warming is. The steady chunk was measured at one user like the
        ceiling's first step and is kept as that step; the chunks before it are discarded. None when the warm-up
        never settled: the ceiling then measures its first step itself."""
        budget = self.cfg.warmup_seconds
        seconds = min(WARMUP_CHUNK_SECONDS, budget)
        previous: ProbeMeasurement | None = None
        while seconds > 0 and self.fits(seconds):
            m = self.probe.measure(1, seconds, settle=False)  # the first requests are the warm-up's to discard
            budget -= seconds
            if previous is not None and _agree(previous, m):
                passed, why = self.cfg.check.verdict(m)
                return _Step(m, why, self._judged(m, passed, why or "ceiling probe (the warm-up's steady end)"))
            self._judged(m, False, "warm-up (discarded)", kind="warmup")
            previous = m
            # Nothing answered yet: twice as long. Never past the warm-up's budget, nor a sliver of a chunk.
            wanted = WARMUP_CHUNK_LATENCIES * m.latencies.p50 / 1000 if m.latencies else 2 * seconds
            seconds = min(budget, max(WARMUP_CHUNK_SECONDS, wanted))
            if seconds < WARMUP_CHUNK_SECONDS:
                return None
        return None

    # --- phase 2: closed-loop ceiling ---------------------------------------------------------------------------
    def _ceiling(self, first: _Step | None) -> tuple[ProbeRecord, str | None]:
        """Closed-loop steps from one user (``first``: already measured by the warm-up), x4 users while throughput
        per user holds, else x2, until throughput grows < 5 %, errors pass the limit, or throughput per user falls
        below ``SATURATED_PER_USER`` of the previous step's (saturated: more users only queue)."""
        best: ProbeRecord | None = None
        previous: ProbeRecord | None = None
        users = 1
        while True:
            step, first = first or self._step(users, previous), None
            if step is None:
                if best is None:
                    return _none(), "Time budget exhausted before the ceiling probe could run."
                return best, None
            measurement, why, record = step.measurement, step.why, step.record
            if not record.valid and self._scale_out():
                continue  # same users again, from one more generator process
            if not record.valid:
                if best is not None:
                    return best, None  # the open-loop search finds what the generator can offer on schedule
                self.generator.limited = self.floor = True
                return record, (
                    f"The load generator saturated at {users} users ({record.note}) before any load was measured: "
                    "the endpoint's capacity is unknown."
                )
            if measurement.error_rate > self.cfg.check.max_error_rate and best is None:
                return record, f"Errors at the lightest load: {why}."
            if best is not None and record.rps < best.rps * (1 + MIN_THROUGHPUT_GAIN):
                return best, None
            if measurement.error_rate > self.cfg.check.max_error_rate:
                return best or record, None
            best = record if best is None or record.rps > best.rps else best
            if previous is not None and _per_user(record) < SATURATED_PER_USER * _per_user(previous):
                return best, None
            if users >= self.cfg.max_users:
                return best, None
            linear = previous is None or _per_user(record) >= LINEAR_PER_USER * _per_user(previous)
            previous = record
            users = min(users * (4 if linear else 2), self.cfg.max_users)

    def _step(self, users: int, previous: ProbeRecord | None) -> _Step | None:
        """One closed-loop step, recorded; None when it would not fit in the time left."""
        seconds = self._step_seconds(users, previous)
        if not self.fits(seconds):
            return None
        # Steps run back to back: each is long enough for a few round trips per user that the new users' first
        # requests are a small part of it. Only a first step that no warm-up preceded settles.
        measurement = self.probe.measure(users, seconds, settle=not self.records)
        passed, why = self.cfg.check.verdict(measurement)
        return _Step(measurement, why, self._judged(measurement, passed, why or "ceiling probe"))

    def _step_seconds(self, users: int, previous: ProbeRecord | None) -> float:
        """``step_seconds`` for a first step. Later ones last as long as ``STEP_COMPLETIONS`` completions and
        ``STEP_LATENCIES`` round trips per user take at the previous step's pace (its throughput per user, and
        its latency as if the endpoint were saturated: both scaled to ``users``), within [``MIN_STEP_SECONDS``,
        ``step_seconds``]: a fixed length would be too short for a slow endpoint and needlessly long for a fast
        one."""
        if previous is None or previous.rps <= 0 or previous.latency_ms is None or previous.users < 1:
            return self.cfg.step_seconds
        growth = users / previous.users
        wanted = max(
            STEP_COMPLETIONS / (previous.rps * growth), STEP_LATENCIES * growth * previous.latency_ms.p50 / 1000
        )
        return min(self.cfg.step_seconds, max(MIN_STEP_SECONDS, wanted))

    # --- phase 3: open-loop SLA search --------------------------------------------------------------------------
    def _sla_search(self, ceiling: ProbeRecord) -> str:
        one_user = next((r for r in self.records if r.kind == "closed" and r.users == 1), None)
        if one_user is not None and one_user.latency_ms is not None:
            self.idle_latency = one_user.latency_ms.at(self.cfg.check.percentile)  # latency with no queueing
        throughput = ceiling.rps
        cap = throughput * CEILING_MARGIN
        bracket = Bracket(hi=cap)
        bracket.lo_latency = self.idle_latency
        # Start just under the ceiling: where the SLA-bound rate lies when latency grows only near saturation, and
        # past the knee (then failing fast) when it grows earlier. Never at the ceiling itself: open loop at full
        # capacity only grows a queue.
        rate = START_SHARE_OF_CEILING * cap
        while True:
            seconds = self._probe_seconds(rate, self.idle_latency)
            if not self.fits(seconds + 1):
                return self._out_of_time(bracket)
            suspect_below = SUSPECT_FAILURE_SHARE * throughput
            # Re-measure an invalid probe at the same rate only until the generator has shown a lasting limit:
            # after that, a lower rate is the better use of the time.
            record = self._valid_open_probe(
                rate, seconds, suspect_below, retry=not self.generator.found, pass_after=self._pass_after(bracket)
            )
            if record.valid:
                bracket.add(record.passed, rate, record.rps, _latency_at(record, self.cfg.check.percentile))
            else:
                self.generator.add(rate, record.note)
            if self.generator.rate <= bracket.hi:  # the generator, not a failure, bounds the bracket
                verdict = self._generator_bound(bracket)
                if verdict:
                    return verdict
                rate = self._below_generator(bracket)
                continue
            if not bracket.hi_measured and bracket.width() <= self.cfg.precision:
                rate = bracket.hi  # the top is still the closed-loop estimate: measure it before it bounds the answer
                continue
            if bracket.lo > 0 and bracket.width() <= self.cfg.precision:
                held = self._confirm(bracket)  # may lower the bracket
                if bracket.lo <= 0:
                    return held.strip()
                within = (
                    f"within {self.cfg.precision:.0%}"
                    if bracket.width() <= self.cfg.precision
                    else (f"{bracket.width():.0%} apart")
                )
                return f"SLA bracketed: {bracket.lo:.1f} RPS passes, {bracket.hi:.1f} RPS fails ({within}).{held}"
            if bracket.hi <= self._lowest_useful_rate():
                return f"No rate down to {bracket.hi:.1f} RPS met the SLA: {record.note}."
            rate = self._next_rate(bracket, record)

    def _next_rate(self, bracket: Bracket, last: ProbeRecord) -> float:
        """The bracket's interpolation, unless the last probe failed with its queue growing (then the capacity its
        growth implies) or passed near a top that is still an estimate."""
        rate = bracket.next_rate(self.cfg.check.sla_ms)
        if (aim := self._capacity_from_queue(last)) is not None and bracket.lo < aim < bracket.hi:
            return aim
        step = bracket.lo * (1 + self.cfg.precision)
        if not bracket.hi_measured and step * CEILING_MARGIN >= bracket.hi:
            # A pass near a top that is only an estimate: one step of the precision above it closes the bracket if
            # it fails, and climbs by as much if it passes (short closed-loop steps under-read the ceiling).
            return min(bracket.hi, step)
        return rate

    def _capacity_from_queue(self, failed: ProbeRecord) -> float | None:
        """The capacity a failed probe's queue growth implies, if it grew clearly. Offered a share d over its
        capacity, an endpoint's queue (so its latency) grows by d seconds per second: the latency the probe ended at,
        less the one-user latency, over its length, estimates d (an over-estimate: the queue also grew during the
        settle), and the capacity is then rate / (1 + d). Where latency broke the SLA without growing that fast
        (a queue that is long but steady) it says nothing: None."""
        latency = _latency_at(failed, self.cfg.check.percentile)
        if failed.passed or not failed.valid or latency is None or failed.target_rps is None or failed.seconds <= 0:
            return None
        overload = (latency - (self.idle_latency or 0.0)) / 1000 / failed.seconds
        if overload < QUEUE_GROWTH_SHARE * self.cfg.precision:
            return None
        return failed.target_rps / (1 + overload)

    def _pass_after(self, bracket: Bracket) -> float:
        """How long a probe runs before it may stop early as a pass: ``min_probe_seconds``, and long enough that an
        overload of half the precision would have shown (``_overload_seconds``)."""
        return max(self.cfg.min_probe_seconds, self._overload_seconds(self.idle_latency))

    def _overload_seconds(self, latency_ms: float | None) -> float:
        """Offered a share d over its capacity, an endpoint's queue grows by d seconds of work per second: latency
        reaches the SLA after (SLA - latency) / d. A probe this long fails any overload of ``OVERLOAD_SHARE`` of the
        precision or more (``latency_ms``: the latency below it, at the bracket's lower end; unknown: 0)."""
        slack_s = max(0.0, self.cfg.check.sla_ms - (latency_ms or 0.0)) / 1000
        return slack_s / (OVERLOAD_SHARE * self.cfg.precision)

    def _out_of_time(self, bracket: Bracket) -> str:
        opened = any(r.kind == "open" for r in self.records)
        if opened and self.generator.rate <= bracket.hi and bracket.lo > 0:
            self.generator.limited = self.floor = True
            return (
                f"Time budget exhausted with {bracket.lo:.1f} RPS passing and the load generator unable to offer "
                f"{self.generator.rate:.1f} RPS on schedule: at least {bracket.lo:.1f} RPS within the SLA (a lower "
                "bound)."
            )
        if bracket.lo <= 0 and any(r.kind == "closed" and r.valid and r.passed for r in self.records):
            return self._no_open_pass_in_time(bracket, opened)
        if not opened:
            return "Time budget exhausted before the open-loop SLA search, and no closed-loop step met the SLA."
        return f"Time budget exhausted with the SLA bracketed in [{bracket.lo:.1f}, {bracket.hi:.1f}] RPS."

    def _no_open_pass_in_time(self, bracket: Bracket, opened: bool) -> str:
        """Time ran out before any open-loop rate passed, though closed-loop steps met the SLA: the search did not
        get far enough, which says nothing of a capacity of 0, and the best closed-loop step would over-state it
        (closed loop hides the queue). The answer is a queue-free closed-loop step as a floor, or no figure."""
        self.floor = True
        self.generator.limited = opened and self.generator.rate <= bracket.hi
        top = min(bracket.hi, self.generator.rate)
        ended = (
            f"Time budget exhausted before any open-loop rate passed (none up to {top:.1f} RPS was certified)"
            if opened
            else "Time budget exhausted before the open-loop SLA search"
        )
        step = self.queue_free_step()
        if step is None:
            return (
                f"{ended}, and no closed-loop step that met the SLA had concurrency to spare: capacity not measured. "
                "Allow more max_seconds_per_candidate."
            )
        return (
            f"{ended}; the answer is the closed-loop step at {step.users} users ({step.rps:.1f} RPS within the SLA, "
            "with concurrency to spare, so no queue hid in it): a lower bound. Allow more max_seconds_per_candidate."
        )

    def _generator_bound(self, bracket: Bracket) -> str:
        """The stop reason once the generator's limit settles the answer, else '' (search on below it).

        With an open-loop pass within ``precision`` of the rate the generator could not offer, that pass is the
        answer, as a lower bound. Without any open-loop pass down to the lowest useful rate (or down to a
        queue-free closed-loop step's rate, which already certifies as much), the answer is that closed-loop step,
        as a lower bound, or nothing."""
        top, why = self.generator.rate, self.generator.why
        if bracket.lo > 0:
            if top - bracket.lo > self.cfg.precision * bracket.lo:
                return ""
            self.generator.limited = self.floor = True
            return (
                f"Generator-limited: the load generator could not offer {top:.1f} RPS on schedule ({why}); "
                f"{bracket.lo:.1f} RPS passed, so the endpoint sustains at least that within the SLA (a lower bound: "
                "it may sustain more)."
            )
        if top > self._generator_floor():
            return ""
        self.generator.limited = self.floor = True
        step = self.queue_free_step()
        if step is None:
            return (
                f"Generator-limited: the load generator could not offer any open-loop rate down to {top:.1f} RPS on "
                f"schedule ({why}), and no closed-loop step had users to spare: the endpoint's capacity is unknown."
            )
        return (
            f"Generator-limited: the load generator could not offer any open-loop rate down to {top:.1f} RPS on "
            f"schedule ({why}); the answer is the closed-loop step at {step.users} users ({step.rps:.1f} RPS within "
            "the SLA, with concurrency to spare, so no queue hid in it): a lower bound."
        )

    def _below_generator(self, bracket: Bracket) -> float:
        """The next rate under the generator's limit: halfway to it from a pass, else a step below it (not below
        the rate a queue-free closed-loop step already certifies)."""
        top = self.generator.rate
        if bracket.lo > 0:
            return (bracket.lo + top) / 2
        return max(GENERATOR_STEP_DOWN * top, self._generator_floor())

    def _generator_floor(self) -> float:
        step = self.queue_free_step()
        return max(self._lowest_useful_rate(), step.rps if step is not None else 0.0)

    def queue_free_step(self) -> ProbeRecord | None:
        """The fastest closed-loop step that passed the SLA with concurrency to spare: its next step, at least
        twice the users, still drew ``QUEUE_FREE_SHARE`` of its rate per user, so under this step's load the
        endpoint had idle workers and open loop at the same rate meets no queue. The only closed-loop figure that
        may stand for an open-loop pass (a step at the ceiling hides the queue open loop would build)."""
        steps = sorted((r for r in self.records if r.kind == "closed" and r.valid), key=lambda r: (r.users, r.index))
        spare = []
        for step in steps:
            bigger = next((r for r in steps if r.users > step.users), None)
            if (
                step.passed
                and step.users > 0
                and bigger is not None
                and bigger.users >= 2 * step.users
                and bigger.rps / bigger.users >= QUEUE_FREE_SHARE * step.rps / step.users
            ):
                spare.append(step)
        return max(spare, key=lambda r: r.rps, default=None)

    def _valid_open_probe(
        self,
        rate: float,
        seconds: float,
        suspect_below: float,
        *,
        extensions: int = MAX_EXTENSIONS,
        label: str = "",
        retry: bool = True,
        pass_after: float | None = None,
    ) -> ProbeRecord:
        """An open-loop probe, measured again while the generator was the limit: from one more generator process
        if the probe can add one, else once more if ``retry`` (a passing hiccup: another process took the CPU).
        ``pass_after``: the probe may stop early as a clear pass after that many seconds (None: never)."""
        record = self._open_probe(rate, seconds, suspect_below, extensions, label, pass_after)
        retried = not retry
        while not record.valid and self.fits(seconds + 1):
            if self._scale_out():
                record = self._open_probe(rate, seconds, suspect_below, extensions, label, pass_after)
            elif not retried:
                retried = True
                record = self._open_probe(rate, seconds, suspect_below, extensions, label, pass_after)
            else:
                break
        return record

    def _open_probe(
        self,
        rate: float,
        seconds: float,
        suspect_below: float,
        extensions: int,
        label: str,
        pass_after: float | None = None,
    ) -> ProbeRecord:
        """One open-loop probe; unstable windows earn up to ``extensions`` re-measures when passing, or when failing
        far below the ceiling (where a failure is more likely a spike than overload). Only a re-measure with
        agreeing windows overturns such a failure: two noisy measurements, one failing, do not make a pass (near the
        knee of a server with variable service times that second chance alone over-stated the answer by ~2 %).
        ``label`` is the note of a passing probe."""
        first_failed = False
        rule = self.cfg.fail_fast
        if rule is not None and pass_after is not None and pass_after < seconds:
            rule = replace(rule, pass_after_seconds=pass_after)
        for attempt in range(extensions + 1):
            m = self.probe.measure_rate(rate, seconds, WINDOWS, self.cfg.late_ms, fail_fast=rule)
            passed, why = self.cfg.check.verdict(m)
            if m.stopped_early and not passed:
                why += f" (stopped after {m.seconds:.1f} of {seconds:.1f} s: the failure was certain)"
            elif m.stopped_early and not label and m.seconds < EARLY_LABEL_SHARE * seconds:
                label = f"stopped after {m.seconds:.1f} of {seconds:.1f} s: the pass was clear"
            valid, invalid_why = generator_ok(m)
            if passed and m.rps < KEEP_UP_RATIO * rate:
                passed, why = False, f"completed {m.rps:.1f} of {rate:.1f} RPS offered: falling behind"
            stable = _stable(m, self.cfg.check.percentile, self.cfg.check.sla_ms)
            if passed and (rise := _rising(m, self.cfg.check.sla_ms)):
                passed, why = False, f"median latency rose window by window ({rise}): a queue was building"
            if passed and not stable and first_failed:
                passed, why = False, "failed, then passed with disagreeing windows: not shown to be a spike"
            last = attempt == extensions
            note = invalid_why or why or label or ("" if stable else "windows disagree; re-measured")
            worth_another = not stable and (passed or rate < suspect_below)
            if not valid or not worth_another or last:
                return self.record(m, passed and valid, note, kind="open", stable=stable, valid=valid)
            first_failed = not passed
            # Not a verdict either way (valid: checked above): the re-measure decides.
            again = (
                "within the SLA, but its windows disagree: re-measuring"
                if passed
                else "failed with disagreeing windows far below the ceiling (a spike?): re-measuring"
            )
            self.record(m, False, again, kind="open", stable=False, remeasured=True)
        raise AssertionError("unreachable")

    def _confirm(self, bracket: Bracket) -> str:
        """Re-measure the answer with one probe of ``confirm_seconds`` before reporting it: on a server whose speed
        varies over seconds (GC, noisy neighbours, a VM's spells) a short probe can fall between two slow spells and
        pass a rate that fails over half a minute. A failed confirmation withdraws every pass it covers and the next
        one runs lower (``_step_after``), at most ``MAX_CONFIRMATIONS`` in all: a few long probes (failing ones end
        early) instead of a whole search of them. Returns a note for the stop reason."""
        answer = self._best_open_pass()
        if answer is None or answer.target_rps is None or self.cfg.confirm_seconds <= 0:
            return ""
        rate, failed, failed_seconds = answer.target_rps, None, 0.0
        if answer.seconds >= 0.99 * self._confirm_seconds(rate):
            return ""  # the answer's own probe was that long already (a low rate needs long probes for its samples)
        for _ in range(MAX_CONFIRMATIONS):
            seconds = self._confirm_seconds(rate)
            if not self.fits(seconds + 1):
                return f" Not confirmed by a {seconds:.0f} s probe: no time left." + _below(failed)
            if failed is not None:  # between here and the failed rate only a long probe decides: no short pass may
                self._withdraw_passes_from(rate, failed, failed_seconds)
            # Judged as measured, never re-measured for disagreeing windows: meeting a slow spell is the point.
            record = self._valid_open_probe(rate, seconds, 0.0, extensions=0, label=f"confirmation ({seconds:.0f} s)")
            if not record.valid:
                return f" Not confirmed: the generator was the limit at {rate:.1f} RPS." + _below(failed)
            if record.passed:
                held = f" The answer held for a {record.seconds:.0f} s probe."
                if failed is not None:  # the bracket's lower end was a withdrawn short pass
                    bracket.lo, bracket.lo_latency = record.rps, _latency_at(record, self.cfg.check.percentile)
                    held += f" {failed.target_rps:.1f} RPS had failed one."
                return held
            bracket.add(False, rate, record.rps, _latency_at(record, self.cfg.check.percentile))
            self._withdraw_passes_from(rate, record, seconds)
            failed, failed_seconds, rate = record, seconds, rate * (1 - self._step_after(record))
        best = self._best_open_pass()
        bracket.lo = best.rps if best else 0.0
        return (
            f" Not confirmed: {MAX_CONFIRMATIONS} probes of {self.cfg.confirm_seconds:.0f} s failed, from "
            f"{answer.target_rps:.1f} down to {failed.target_rps if failed else 0:.1f} RPS; "
            + ("the answer is a shorter probe's." if best else "no rate held one.")
        )

    def _withdraw_passes_from(self, rate: float, failed: ProbeRecord, seconds: float) -> None:
        """Mark every pass at or above ``rate`` as withdrawn because of the long probe that failed."""
        for i, r in enumerate(self.records):
            if r.kind == "open" and r.passed and r.index != failed.index and (r.target_rps or 0) >= rate:
                self.records[i] = r.model_copy(
                    update={
                        "passed": False,
                        "note": f"{WITHDRAWN} a {seconds:.0f} s probe at {failed.target_rps:.1f} RPS failed "
                        f"({failed.note})",
                    }
                )

    def _step_after(self, failed: ProbeRecord) -> float:
        """How far below a failed confirmation the next one runs. Offered a share d over its capacity, a server's
        queue grows by d seconds of work per second, so latency / elapsed time estimates d: just past the knee
        (a steady server, where the short search is within precision) that is tiny and the step is ``precision``;
        a probe that built a long queue fast steps further, up to ``MAX_CONFIRM_STEP`` x precision (a slow spell
        also builds a queue fast, and says little about the long-run capacity)."""
        latency = _latency_at(failed, self.cfg.check.percentile)
        overload = latency / 1000 / failed.seconds if latency is not None and failed.seconds > 0 else 0.0
        return min(MAX_CONFIRM_STEP * self.cfg.precision, max(self.cfg.precision, overload))

    def _best_open_pass(self) -> ProbeRecord | None:
        passing = [r for r in self.records if r.kind == "open" and r.passed and r.valid]
        return max(passing, key=lambda r: r.rps, default=None)

    def _scale_out(self) -> bool:
        """Ask the probe for one more generator process (distributed mode); False when it cannot add one."""
        add_generator = getattr(self.probe, "add_generator", None)
        return bool(add_generator is not None and add_generator())

    def _probe_seconds(self, rate: float, latency_ms: float | None = None) -> float:
        """Planned length: ``min_completions`` (tail statistics) and long enough to show an overload of
        ``OVERLOAD_SHARE`` of the precision (``_overload_seconds``), at least ``PLANNED_MIN_SECONDS`` and
        ``min_probe_seconds``, capped. A clear pass stops sooner, after ``_pass_after``."""
        wanted = max(self.cfg.min_completions / max(rate, 1e-9), self._overload_seconds(latency_ms))
        return min(self.cfg.max_probe_seconds, max(PLANNED_MIN_SECONDS, self.cfg.min_probe_seconds, wanted))

    def _confirm_seconds(self, rate: float) -> float:
        return min(self.cfg.max_probe_seconds, max(self.cfg.confirm_seconds, self._probe_seconds(rate)))

    def _lowest_useful_rate(self) -> float:
        return max(0.5, self.cfg.precision * max((r.rps for r in self.records), default=1.0))

    def _judged(self, m: ProbeMeasurement, passed: bool, note: str, *, kind: ProbeKind = "closed") -> ProbeRecord:
        """Record a closed-loop probe, invalid (with the reason as its note) when the generator was the limit."""
        valid, why = generator_ok(m)
        return self.record(m, passed and valid, why or note, kind=kind, valid=valid)


@dataclass(frozen=True)
class _Step:
    """A closed-loop step already measured and recorded (the warm-up's steady chunk), with its verdict's reason."""

    measurement: ProbeMeasurement
    why: str
    record: ProbeRecord


def _agree(a: ProbeMeasurement, b: ProbeMeasurement) -> bool:
    """Two warm-up chunks agree: both answered, medians within ``WARMUP_AGREEMENT`` of each other."""
    if a.latencies is None or b.latencies is None or a.failures or b.failures:
        return False
    return abs(a.latencies.p50 - b.latencies.p50) <= WARMUP_AGREEMENT * max(a.latencies.p50, b.latencies.p50)


def _per_user(record: ProbeRecord) -> float:
    return record.rps / record.users if record.users > 0 else 0.0


def _below(failed: ProbeRecord | None) -> str:
    return f" A long probe at {failed.target_rps:.1f} RPS had failed." if failed is not None else ""


def _latency_at(record: ProbeRecord, percentile: Percentile) -> float | None:
    return record.latency_ms.at(percentile) if record.latency_ms else None


def generator_ok(m: ProbeMeasurement) -> tuple[bool, str]:
    if m.generator_cpu_percent is not None and m.generator_cpu_percent > GENERATOR_CPU_LIMIT_PERCENT:
        return False, f"generator CPU {m.generator_cpu_percent:.0f}% > {GENERATOR_CPU_LIMIT_PERCENT:.0f}%"
    # A couple of late sends are a hiccup whatever the probe's length (1 % of a one-second probe at 60 RPS is
    # less than one send); latency is timed from the schedule, so they count against the endpoint anyway.
    late_sends = (m.late_share or 0.0) * m.requests
    if m.late_share is not None and m.late_share > MAX_LATE_SHARE and late_sends > LATE_SENDS_GRACE:
        return False, f"{m.late_share:.1%} of sends left late (> {MAX_LATE_SHARE:.0%})"
    return True, ""


def _stable(m: ProbeMeasurement, percentile: Percentile, sla_ms: float) -> bool:
    """Windows agree: throughput within 10 %, and latency within 10 % or every window clearly on one side of the
    SLA (at light load a p95 of 5 vs 6 ms differs by 20 % yet says the same thing about a 50 ms SLA)."""
    if len(m.window_rps) < 2:
        return True
    if _spread(m.window_rps) > STABILITY_TOLERANCE:
        return False
    latencies = [w.at(percentile) for w in m.window_latencies if w is not None]
    if len(latencies) < 2 or _spread(latencies) <= STABILITY_TOLERANCE:
        return True
    return all(v <= 0.8 * sla_ms for v in latencies) or all(v > sla_ms for v in latencies)


def _rising(m: ProbeMeasurement, sla_ms: float) -> str:
    """The windows' median latency rising from each window to the next, overall by ``RISE_SHARE`` or more of the
    slack the first window left below the SLA: the endpoint's queue grew through the probe (offered more than it
    serves; a short probe ends before the queue reaches the SLA), at a pace that would use up the slack within a
    few probe lengths. Queue noise seldom orders three windows' medians so, or moves them that far: a few ms, where
    the slack is tens. The rise ('' if none)."""
    medians = [w.p50 for w in m.window_latencies if w is not None]
    if len(medians) < 3 or len(medians) != len(m.window_latencies):
        return ""
    rise, slack = medians[-1] - medians[0], sla_ms - medians[0]
    if all(a < b for a, b in itertools.pairwise(medians)) and rise >= RISE_SHARE * slack:
        return " -> ".join(f"{v:.0f}" for v in medians) + " ms"
    return ""


def _spread(values: tuple[float, ...] | list[float]) -> float:
    mean = sum(values) / len(values)
    return (max(values) - min(values)) / mean if mean > 0 else 0.0


def _none() -> ProbeRecord:
    return ProbeRecord(
        index=-1, users=0, seconds=0, requests=0, failures=0, rps=0, error_rate=0, latency_ms=None, passed=False
    )
