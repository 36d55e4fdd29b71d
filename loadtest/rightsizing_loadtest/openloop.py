"""Open-loop load: requests leave on a fixed schedule (k / rate), whatever the endpoint does.

Each request is timed from its *scheduled* start, so a slow endpoint cannot slow the generator down and hide its
own queueing (coordinated omission). A send that leaves later than ``late_ms`` after its schedule is counted as
late: above 1 % the generator, not the endpoint, set the pace and the probe is invalid. Requests go through one
``FastHttpSession`` pool, so Locust's own stats (CSV/HTML) include them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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
        self, rate: float, settle: float, seconds: float, windows: int, late_ms: float, drain: float
    ) -> OpenLoopResult:
        start = time.monotonic()
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
        return _summarise(sent, pending, measure_from, seconds, windows, late_ms / 1000)

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


def _summarise(
    all_sent: list[Sent], pending: int, measure_from: float, seconds: float, windows: int, late_s: float
) -> OpenLoopResult:
    measure_to = measure_from + seconds
    sent = [s for s in all_sent if measure_from <= s.scheduled < measure_to]
    window_length = seconds / windows
    buckets: list[list[Sent]] = [[] for _ in range(windows)]
    for s in sent:
        buckets[min(windows - 1, int((s.scheduled - measure_from) / window_length))].append(s)
    latencies = [(s.completed - s.scheduled) * 1000 for s in sent if s.ok and s.completed is not None]
    requests = len(sent) + max(0, pending)
    return OpenLoopResult(
        seconds=seconds,
        requests=requests,
        failures=requests - len(latencies),
        # Completions whose *completion* fell inside the interval: what the endpoint actually kept up with.
        completions_per_second=sum(
            1 for s in all_sent if s.ok and s.completed is not None and measure_from <= s.completed < measure_to
        )
        / seconds,
        latencies=latency_percentiles(latencies),
        late_share=(sum(1 for s in sent if s.late_s > late_s) / len(sent)) if sent else 0.0,
        window_rps=tuple(sum(1 for s in b if s.ok) / window_length for b in buckets),
        window_latencies=tuple(
            latency_percentiles([(s.completed - s.scheduled) * 1000 for s in b if s.ok and s.completed is not None])
            for b in buckets
        ),
    )
