"""Open-loop load: requests leave on a fixed schedule (k / rate), whatever the endpoint does.

Each request is timed from its *scheduled* start, so a slow endpoint cannot slow the generator down and hide its
own queueing (coordinated omission). A send that leaves later than ``late_ms`` after its schedule is counted as
late: above 1 % the generator, not the endpoint, set the pace and the probe is invalid. Requests go through one
``FastHttpSession`` pool, so Locust's own stats (CSV/HTML) include them.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import gevent.pool
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment

from rightsizing.search.base import FailFast
from rightsizing_loadtest.endpoint import CONTAINER_INVOCATIONS_PATH
from rightsizing_loadtest.tally import OpenLoopTally, Sent, tally
from rightsizing_loadtest.verdict import judge

POOL_CONNECTIONS = 1000  # in-flight cap: far above any healthy endpoint's concurrency at its SLA rate
PASS_CHECK_SECONDS = 0.05  # how often a probe asks whether its pass is clear (the test sums over its sends)
QUIESCE_SECONDS = 30.0  # at most this long waiting, before a probe, for the queue a previous one left to drain

log = logging.getLogger(__name__)


class OpenLoopPacer:
    def __init__(
        self,
        env: Environment,
        host: str,
        next_body: Callable[[], bytes],
        headers_for: Callable[[bytes], dict[str, str]],
        timeout_seconds: float,
        path: str = CONTAINER_INVOCATIONS_PATH,
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
        self._fastest: float | None = None  # seconds: the fastest successful request so far (an idle endpoint)

    def run(
        self,
        rate: float,
        settle: float,
        seconds: float,
        windows: int,
        late_ms: float,
        drain: float,
        phase: float = 0,
        fail_fast: FailFast | None = None,
    ) -> OpenLoopTally:
        """Send at ``rate`` for ``settle + seconds``; ``phase`` in [0, 1) shifts this generator's schedule by a
        fraction of the interval, so N workers at rate/N interleave into one even schedule. With ``fail_fast``
        the sends stop once the measured part's failure is certain, or its pass clear (``FailFast.passes``); the
        tally then covers what was measured."""
        self.quiesce()
        start = time.monotonic() + phase / rate
        measure_from, measure_to = start + settle, start + settle + seconds
        sent: list[Sent] = []
        live = _LiveCounts(measure_from, measure_to, fail_fast.sla_ms / 1000 if fail_fast else math.inf)
        planned = math.ceil(seconds * rate) + 1  # an upper bound on the measured sends: the safe side for FailFast
        group = gevent.pool.Group()
        k = 0
        next_pass_check = measure_from
        while (scheduled := start + k / rate) < measure_to:
            if fail_fast is not None and fail_fast.certain(planned, live.over_sla, live.failed):
                measure_to = scheduled  # sends scheduled before this point are the measured part
                break
            if fail_fast is not None and scheduled >= next_pass_check and live.passes(fail_fast, scheduled):
                measure_to = scheduled
                break
            if scheduled >= next_pass_check:
                next_pass_check = scheduled + PASS_CHECK_SECONDS
            delay = scheduled - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            if scheduled >= measure_from:
                live.scheduled.append(scheduled)
            group.spawn(self._send, scheduled, sent, live)
            k += 1
        group.join(timeout=drain)  # let the last requests finish; what is still pending has failed the SLA anyway
        group.kill(block=True, timeout=1)
        pending = k - len(sent)  # killed before completing: count them as failures
        return tally(sent, pending, measure_from, measure_to - measure_from, windows, late_ms / 1000)

    def quiesce(self, max_seconds: float = QUIESCE_SECONDS) -> None:
        """Send one request at a time until one is about as fast as the fastest seen: the queue an overloaded probe
        left in the endpoint (requests the client gave up on are still served) has drained and cannot fail the
        next probe's first requests. Costs one request when the endpoint is idle."""
        began = time.monotonic()
        while time.monotonic() - began < max_seconds:
            sent: list[Sent] = []
            self._send(time.monotonic(), sent)
            latency, fastest = sent[0].latency_s, self._fastest
            if latency is not None and fastest is not None and latency <= max(2 * fastest, fastest + 0.002):
                return
        log.warning(
            "the endpoint was still slow %.0f s after the previous probe (a queue left behind?); "
            "the next probe may read it as its own latency",
            max_seconds,
        )

    def _send(self, scheduled: float, sent: list[Sent], live: _LiveCounts | None = None) -> None:
        began = time.monotonic()
        body = self._next_body()
        ok = False
        try:
            with self._session.request(
                "POST",
                self._path,
                data=body,  # type: ignore[arg-type]  # Locust annotates str|dict; bytes are sent as is
                headers=self._headers_for(body),
                name=self._path,
                catch_response=True,
            ) as response:
                ok = judge(response)
        finally:
            record = Sent(scheduled, began - scheduled, time.monotonic(), ok)
            sent.append(record)
            if live is not None:
                live.add(record)
            latency = record.latency_s
            if latency is not None:
                self._fastest = latency if self._fastest is None else min(self._fastest, latency)


@dataclass
class _LiveCounts:
    """Measured sends over the SLA, and failed, so far, kept as requests complete: all FailFast needs. For an early
    pass also when each measured send was scheduled, and when each one answered within the SLA was."""

    measure_from: float
    measure_to: float
    sla_s: float
    over_sla: int = 0
    failed: int = 0
    scheduled: list[float] = field(default_factory=list)  # measured sends, in schedule order
    within: list[float] = field(default_factory=list)  # scheduled times of answers within the SLA, kept sorted

    def add(self, s: Sent) -> None:
        if not self.measure_from <= s.scheduled < self.measure_to:
            return
        if s.latency_s is None:
            self.failed += 1
        elif s.latency_s > self.sla_s:
            self.over_sla += 1
        else:
            bisect.insort(self.within, s.scheduled)

    def passes(self, rule: FailFast, now: float) -> bool:
        """Whether ``rule`` lets the probe stop as a pass at ``now`` (a send's scheduled time): judged on the sends
        scheduled at least one SLA earlier, each answered by now or already over the SLA (then counted over it)."""
        if rule.pass_after_seconds is None or now - self.measure_from < rule.pass_after_seconds:
            return False
        cutoff = now - self.sla_s
        matured = bisect.bisect_left(self.scheduled, cutoff)
        within = bisect.bisect_left(self.within, cutoff)
        return rule.passes(matured, matured - within, self.failed, now - self.measure_from)
