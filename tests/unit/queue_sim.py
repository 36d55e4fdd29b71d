"""A simulated c-slot FIFO server driven the way the load generator drives a real one, for search-timing tests.

Unlike the analytic models elsewhere in the unit tests, every request is simulated: ``slots`` requests in service at
once, service times fixed or exponential (seeded), a FIFO queue, so a rate past capacity builds its queue second by
second as on the benchmarks' ground-truth server. Open-loop probes apply the pacer's real early-stop rules
(``FailFast.certain`` and ``FailFast.passes``, on the schedule ``openloop.OpenLoopPacer`` uses) and are judged from
the simulated latencies with the real percentile code. The fake clock advances by what ``LocustProbe`` spends: the
settle, the measured part, the drain of requests still in flight, the queue left behind (the next probe's drain
wait) and a fixed overhead per probe.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from dataclasses import dataclass, field

from rightsizing.models.common import PERCENTILE_FRACTIONS, LatencyPercentiles
from rightsizing.search.base import FailFast, ProbeMeasurement
from rightsizing.stats import latency_percentiles

PASS_CHECK_SECONDS = 0.05  # as in loadtest/rightsizing_loadtest/openloop.py
CLIENT_GAP_S = 0.0005  # a closed-loop user's own time between two requests
SPAWN_POLL_SECONDS = 0.02  # driver.set_users polls for the users every 20 ms


@dataclass
class QueueServer:
    slots: int
    service_ms: float
    exponential: bool = False
    settle_seconds: float = 0.5  # the load-test task's: max(0.5, step_seconds / 4, 2 x SLA)
    open_settle_seconds: float = 0.2  # the load-test task's for open loop: max(0.2, 2 x SLA)
    drain_seconds: float = 1.0
    overhead_seconds: float = 0.05  # per probe: re-targeting users, the drain wait's one request, bookkeeping
    seed: int = 11
    now: float = 0.0
    backlog: float = 0.0  # seconds of queued work an overloaded probe left behind
    calls: list[tuple[str, float, float]] = field(default_factory=list)  # (kind, users or rate, measured seconds)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def capacity(self) -> float:
        mean_s = self.service_ms / 1000
        return self.slots / mean_s

    def truth(self, sla_ms: float, percentile: str = "p95") -> float:
        """The highest constant arrival rate whose simulated percentile stays within the SLA (bisection)."""
        if not self.exponential:
            return self.capacity if self.service_ms <= sla_ms else 0.0
        rng = random.Random(7)
        service = [rng.expovariate(1000 / self.service_ms) for _ in range(40_000)]
        lo, hi = 0.0, self.capacity
        for _ in range(30):
            rate = (lo + hi) / 2
            sojourn = _open_loop(rate, service, self.slots)[len(service) // 10 :]
            sojourn.sort()
            at = sojourn[min(len(sojourn) - 1, int(PERCENTILE_FRACTIONS[percentile] * len(sojourn)))]  # type: ignore[index]
            lo, hi = (rate, hi) if at * 1000 <= sla_ms else (lo, rate)
        return lo

    def clock(self) -> float:
        return self.now

    def _service(self) -> float:
        mean_s = self.service_ms / 1000
        return self._rng.expovariate(1 / mean_s) if self.exponential else mean_s

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        """Closed loop: ``users`` send back to back (a small client gap between requests), from an idle server."""
        self.calls.append(("closed", users, seconds))
        # Unsettled, the window still opens only once every user has spawned: the probe polls for that.
        settle_s = self.settle_seconds if settle else SPAWN_POLL_SECONDS
        self.now += self.overhead_seconds + self.backlog + settle_s + seconds
        self.backlog = 0.0
        start, end = settle_s, settle_s + seconds
        free_at = [0.0] * self.slots
        ready = [(0.0, u) for u in range(users)]  # (time the user sends its next request, user)
        heapq.heapify(ready)
        latencies: list[float] = []
        while ready:
            sent, user = heapq.heappop(ready)
            if sent >= end:
                break
            done = max(sent, heapq.heappop(free_at)) + self._service()
            heapq.heappush(free_at, done)
            if start <= done < end:
                latencies.append((done - sent) * 1000)
            heapq.heappush(ready, (done + CLIENT_GAP_S, user))
        return ProbeMeasurement(users, seconds, len(latencies), 0, latency_percentiles(latencies), 20.0)

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        """Open loop at ``rate`` from an idle server: sends at k / rate, the first ``open_settle_seconds``
        unmeasured."""
        self.now += self.overhead_seconds + self.backlog
        measure_from, measure_to = self.open_settle_seconds, self.open_settle_seconds + seconds
        count = math.ceil(measure_to * rate) + 1
        service = [self._service() for _ in range(count)]
        sends = [k / rate for k in range(count)]
        done = [s + w for s, w in zip(sends, _open_loop(rate, service, self.slots), strict=True)]
        end = self._early_end(sends, done, measure_from, measure_to, rate, seconds, fail_fast)
        measured = [k for k, s in enumerate(sends) if measure_from <= s < end]
        last = max((done[k] for k in measured), default=end)
        drained_at = min(last, end + self.drain_seconds)
        ok = [k for k in measured if done[k] <= drained_at]
        span = end - measure_from
        self.now += measure_from + span + max(0.0, drained_at - end)
        # What the server still has to serve after the client stopped waiting: the next probe's drain wait.
        self.backlog = max(0.0, max((done[k] for k in range(len(sends)) if sends[k] < end), default=0.0) - drained_at)
        self.calls.append(("open", rate, span))
        width = span / windows
        buckets: list[list[float]] = [[] for _ in range(windows)]
        for k in ok:
            buckets[min(windows - 1, int((sends[k] - measure_from) / width))].append((done[k] - sends[k]) * 1000)
        window_latencies: tuple[LatencyPercentiles | None, ...] = tuple(latency_percentiles(b) for b in buckets)
        return ProbeMeasurement(
            0,
            span,
            len(measured),
            len(measured) - len(ok),
            latency_percentiles([ms for b in buckets for ms in b]),
            20.0,
            offered_rps=rate,
            late_share=0.0,
            window_rps=tuple(len(b) / width for b in buckets),
            window_latencies=window_latencies,
            stopped_early=end < measure_to,
        )

    @staticmethod
    def _early_end(
        sends: list[float],
        done: list[float],
        measure_from: float,
        measure_to: float,
        rate: float,
        seconds: float,
        rule: FailFast | None,
    ) -> float:
        """Where the pacer would stop sending: before a send once the failure is certain or the pass clear."""
        if rule is None:
            return measure_to
        sla_s = rule.sla_ms / 1000
        planned = math.ceil(seconds * rate) + 1
        measured = [k for k, s in enumerate(sends) if measure_from <= s < measure_to]
        slow_done = sorted(done[k] for k in measured if done[k] - sends[k] > sla_s)  # when each over-SLA one answered
        within_before = list(
            itertools.accumulate((1 if done[k] - sends[k] <= sla_s else 0 for k in measured), initial=0)
        )
        measured_sends = [sends[k] for k in measured]
        next_check = measure_from
        for k in measured:
            now = sends[k]
            if rule.certain(planned, bisect.bisect_right(slow_done, now), 0):
                return now
            if now >= next_check:
                next_check = now + PASS_CHECK_SECONDS
                matured = bisect.bisect_left(measured_sends, now - sla_s)
                if getattr(rule, "pass_after_seconds", None) is not None and rule.passes(
                    matured, matured - within_before[matured], 0, now - measure_from
                ):
                    return now
        return measure_to


def _open_loop(rate: float, service: list[float], slots: int) -> list[float]:
    """Sojourn times (s) of a FIFO ``slots``-server queue fed one request every 1 / rate seconds."""
    free_at = [0.0] * slots
    sojourn = []
    for k, s in enumerate(service):
        arrival = k / rate
        finish = max(arrival, heapq.heappop(free_at)) + s
        heapq.heappush(free_at, finish)
        sojourn.append(finish - arrival)
    return sojourn
