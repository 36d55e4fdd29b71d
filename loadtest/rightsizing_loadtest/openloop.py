"""Open-loop load: requests leave on a fixed schedule (k / rate), whatever the endpoint does.

Each request is timed from its *scheduled* start, so a slow endpoint cannot slow the generator down and hide its
own queueing (coordinated omission). A send that leaves later than ``late_ms`` after its schedule is counted as
late: above 1 % the generator, not the endpoint, set the pace and the probe is invalid. Requests go through one
``FastHttpSession`` pool, so Locust's own stats (CSV/HTML) include them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import gevent
import gevent.pool
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment

from rightsizing.models.common import LatencyPercentiles
from rightsizing.stats import latency_percentiles
from rightsizing_loadtest.users import judge

POOL_CONNECTIONS = 1000  # in-flight cap: far above any healthy endpoint's concurrency at its SLA rate
INVOCATIONS_PATH = "/invocations"


@dataclass(frozen=True)
class Sent:
    scheduled: float
    late_s: float
    completed: float | None
    ok: bool


@dataclass(frozen=True)
class OpenLoopResult:
    """Figures over the measured interval; windows split it in equal parts by *scheduled* time."""

    seconds: float
    requests: int
    failures: int
    completions_per_second: float
    latencies: LatencyPercentiles | None
    late_share: float
    window_rps: tuple[float, ...]
    window_latencies: tuple[LatencyPercentiles | None, ...]


@dataclass
class OpenLoopTally:
    """One generator's raw counts for one probe. Mergeable: distributed workers each pace rate/N and the
    master adds their tallies window by window (percentiles cannot be merged, raw latencies can)."""

    seconds: float
    window_latencies_ms: list[list[float]]  # successful requests' latencies from their *scheduled* start
    window_requests: list[int]
    late: int  # sends in the interval that left late
    sent: int  # sends scheduled in the interval
    pending: int  # never completed before the drain ended: failures
    completions: int  # successful completions that *completed* inside the interval

    def to_wire(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, object]) -> OpenLoopTally:
        return cls(**data)  # type: ignore[arg-type]


def merge(tallies: list[OpenLoopTally]) -> OpenLoopResult:
    """One probe's result from every generator's tally (a single one when Locust runs in-process)."""
    if not tallies:
        raise ValueError("no tally to merge")
    seconds = max(t.seconds for t in tallies)
    windows = len(tallies[0].window_requests)
    window_length = seconds / windows
    per_window = [[ms for t in tallies for ms in t.window_latencies_ms[w]] for w in range(windows)]
    latencies = [ms for window in per_window for ms in window]
    sent = sum(t.sent for t in tallies)
    requests = sent + sum(max(0, t.pending) for t in tallies)
    return OpenLoopResult(
        seconds=seconds,
        requests=requests,
        failures=requests - len(latencies),
        completions_per_second=sum(t.completions for t in tallies) / seconds,
        latencies=latency_percentiles(latencies),
        late_share=sum(t.late for t in tallies) / sent if sent else 0.0,
        window_rps=tuple(len(window) / window_length for window in per_window),
        window_latencies=tuple(latency_percentiles(window) for window in per_window),
    )


class OpenLoopPacer:
    def __init__(
        self,
        env: Environment,
        host: str,
        next_body: Callable[[], bytes],
        headers_for: Callable[[bytes], dict[str, str]],
        timeout_seconds: float,
        path: str = INVOCATIONS_PATH,
        verify_tls: bool = False,
    ) -> None:
        self._session = FastHttpSession(
            host,
            request_event=env.events.request,
            user=None,
            insecure=not verify_tls,  # verify certificates whenever credentials are sent
            concurrency=POOL_CONNECTIONS,
            network_timeout=timeout_seconds,
            connection_timeout=timeout_seconds,
            max_retries=0,
        )
        self._next_body = next_body
        self._headers_for = headers_for
        self._path = path

    def run(
        self, rate: float, settle: float, seconds: float, windows: int, late_ms: float, drain: float, phase: float = 0
    ) -> OpenLoopTally:
        """Send at ``rate`` for ``settle + seconds``; ``phase`` in [0, 1) shifts this generator's schedule by a
        fraction of the interval, so N workers at rate/N interleave into one even schedule."""
        start = time.monotonic() + phase / rate
        measure_from, measure_to = start + settle, start + settle + seconds
        sent: list[Sent] = []
        group = gevent.pool.Group()
        k = 0
        while (scheduled := start + k / rate) < measure_to:
            delay = scheduled - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            group.spawn(self._send, scheduled, sent)
            k += 1
        group.join(timeout=drain)  # let the last requests finish; what is still pending has failed the SLA anyway
        group.kill(block=True, timeout=1)
        pending = k - len(sent)  # killed before completing: count them as failures
        return _tally(sent, pending, measure_from, seconds, windows, late_ms / 1000)

    def _send(self, scheduled: float, sent: list[Sent]) -> None:
        began = time.monotonic()
        body = self._next_body()
        ok = False
        try:
            with self._session.request(
                "POST", self._path, data=body, headers=self._headers_for(body), name=self._path, catch_response=True
            ) as response:
                ok = judge(response)
        finally:
            sent.append(Sent(scheduled, began - scheduled, time.monotonic(), ok))


def _tally(
    all_sent: list[Sent], pending: int, measure_from: float, seconds: float, windows: int, late_s: float
) -> OpenLoopTally:
    measure_to = measure_from + seconds
    sent = [s for s in all_sent if measure_from <= s.scheduled < measure_to]
    window_length = seconds / windows
    buckets: list[list[float]] = [[] for _ in range(windows)]
    requests = [0] * windows
    for s in sent:
        index = min(windows - 1, int((s.scheduled - measure_from) / window_length))
        requests[index] += 1
        if s.ok and s.completed is not None:
            buckets[index].append((s.completed - s.scheduled) * 1000)
    return OpenLoopTally(
        seconds=seconds,
        window_latencies_ms=buckets,
        window_requests=requests,
        late=sum(1 for s in sent if s.late_s > late_s),
        sent=len(sent),
        pending=max(0, pending),
        # Completions whose *completion* fell inside the interval: what the endpoint actually kept up with.
        completions=sum(
            1 for s in all_sent if s.ok and s.completed is not None and measure_from <= s.completed < measure_to
        ),
    )
