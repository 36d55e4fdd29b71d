"""``DistributedProbe``: the same probes as ``LocustProbe``, produced by N worker processes under Locust's
master/worker mode, for loads one process cannot generate.

The master (this process) runs the search, holds the aggregate Locust stats (the workers report theirs to it, so
the CSVs and HTML report cover every worker) and sends measurement requests over Locust's channel:
- closed loop: Locust's master spreads the users over the workers; each worker records the completions of one
  window and the master adds them up;
- open loop: each of N workers paces rate/N on a schedule shifted by i/N of the interval, so together they send
  one even schedule; the master merges their raw tallies window by window (``openloop.merge``).
The generator's CPU is the busiest worker's: one saturated worker invalidates a probe. ``add_generator`` starts
one more worker (up to ``max_workers``) when the search finds the generator saturated.
Where the workers run is the launcher's business (``launchers``): child processes connecting over loopback, or
Fargate tasks of their own connecting to this task's private address (``ecs_workers``).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.queue import Empty, Queue
from locust import User
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import MasterRunner

from rightsizing.search.base import FailFast, ProbeMeasurement
from rightsizing.search.ramp import RampMeasurement
from rightsizing.stats import latency_percentiles
from rightsizing_loadtest import protocol
from rightsizing_loadtest.artifacts import LocustArtifacts
from rightsizing_loadtest.driver import HeldUsers, open_loop_measurement
from rightsizing_loadtest.launchers import GeneratorError, ProcessLauncher, WorkerLauncher
from rightsizing_loadtest.recorder import RequestTotals
from rightsizing_loadtest.tally import OpenLoopTally, merge

REPLY_GRACE_SECONDS = 15.0  # on top of a measurement's own length: a worker that says nothing by then is lost
CHECK_SECONDS = 2.0  # while workers connect: how often to ask the launcher whether one has ended


class DistributedProbe(HeldUsers):
    runner: MasterRunner

    def __init__(
        self,
        user_class: type[User],
        host: str,
        artifacts_dir: Path,
        *,
        workers: int,
        max_workers: int,
        settle_seconds: float = 1.0,
        drain_seconds: float = 2.0,
        spawn_timeout_seconds: float = 30.0,
        launcher: WorkerLauncher | None = None,
        on_worker_added: Callable[[int], None] | None = None,
    ) -> None:
        if not 1 <= workers <= max_workers:
            raise ValueError(f"need 1 <= workers ({workers}) <= max_workers ({max_workers})")
        self.settle_seconds = settle_seconds
        self.drain_seconds = drain_seconds
        self.spawn_timeout_seconds = spawn_timeout_seconds
        self.max_workers = max_workers
        self._launcher: WorkerLauncher = launcher or ProcessLauncher()
        self._started = 0
        self.env = Environment(user_classes=[user_class], host=host)
        self.runner = self.env.create_master_runner(self._launcher.bind_host, self._launcher.bind_port)
        self.runner.register_message(protocol.REPLY, self._on_reply)
        self._replies: Queue[dict[str, Any]] = Queue()
        self._ids = itertools.count(1)
        self._totals: dict[str, RequestTotals] = {}
        self._closed = False
        self._on_worker_added = on_worker_added
        try:
            self._start_workers(workers)
        except BaseException:
            self.runner.quit()  # tells the connected workers to quit first, so stopping them need not wait them out
            self._launcher.stop()
            raise
        self._artifacts = LocustArtifacts(self.env, artifacts_dir)

    # --- workers ------------------------------------------------------------------------------------------------
    @property
    def workers(self) -> int:
        return self._started

    def _start_workers(self, count: int) -> None:
        """Start ``count`` workers at once (Fargate tasks take a minute each) and wait until all have connected."""
        self._launcher.start(self.runner.server.port, count)
        self._started += count
        timeout = self._launcher.connect_timeout
        deadline = time.monotonic() + timeout
        next_check = 0.0
        while self._connected() < self._started:
            if time.monotonic() >= next_check:  # a launcher may ask an API: not every 50 ms
                failure = self._launcher.failure()
                if failure:
                    raise GeneratorError(failure)
                next_check = time.monotonic() + CHECK_SECONDS
            if time.monotonic() > deadline:
                raise GeneratorError(
                    f"{self._started - self._connected()} of {self._started} load-generator workers did not "
                    f"connect within {timeout:.0f} s"
                )
            gevent.sleep(0.05)

    def _connected(self) -> int:
        return len(self._client_ids())

    def _client_ids(self) -> list[str]:
        clients = self.runner.clients
        return sorted(c.id for c in clients.ready + clients.spawning + clients.running)

    def add_generator(self) -> bool:
        """One more worker, if allowed; Locust's master rebalances running users onto it."""
        if self._closed or self.workers >= self.max_workers:
            return False
        self._start_workers(1)
        if self._on_worker_added is not None:
            self._on_worker_added(self.workers)
        return True

    # --- requests and replies -----------------------------------------------------------------------------------
    def _on_reply(self, environment: Environment, msg: Message, **_: object) -> None:
        data = dict(msg.data or {})
        totals = data.get("totals")
        if isinstance(totals, dict):
            self._totals[msg.node_id] = RequestTotals(**totals)
        self._replies.put(data)

    def _ask_all(self, msg_type: str, per_worker: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        """Send each worker its request at once; every worker's reply, or ``GeneratorError``."""
        clients = self._client_ids()
        if len(clients) != len(per_worker):
            raise GeneratorError(f"{len(clients)} of {len(per_worker)} load-generator workers are connected")
        probe_id = next(self._ids)
        for client_id, data in zip(clients, per_worker, strict=True):
            self.runner.send_message(msg_type, {"id": probe_id, **data}, client_id=client_id)
        replies: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(replies) < len(clients):
            try:
                reply = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise GeneratorError(
                    f"{len(clients) - len(replies)} of {len(clients)} load-generator workers did not answer "
                    f"within {timeout:.0f} s"
                ) from None
            if reply.get("id") != probe_id:
                continue  # a late answer to an earlier request that already timed out
            if reply.get("error"):
                raise GeneratorError(f"load-generator worker failed: {reply['error']}")
            replies.append(reply)
        return replies

    @property
    def totals(self) -> RequestTotals:
        return RequestTotals.summed(list(self._totals.values()))

    # --- probes -------------------------------------------------------------------------------------------------
    def ramp(
        self, spawn_rate: float, max_users: int, stop_failure_ratio: float, budget_seconds: float, window: float
    ) -> RampMeasurement:
        """The classic ramp is single-process by definition (the request model refuses it with workers)."""
        raise GeneratorError("mode 'ramp' runs in one load-generator process, not with distributed workers")

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        self._hold(users, seconds, settle=settle)
        replies = self._ask_all(protocol.WINDOW, [{"seconds": seconds}] * self.workers, seconds + REPLY_GRACE_SECONDS)
        latencies = [ms for r in replies for ms in r["latencies_ms"]]
        return ProbeMeasurement(
            users=users,
            seconds=sum(r["seconds"] for r in replies) / len(replies),
            requests=sum(r["requests"] for r in replies),
            failures=sum(r["failures"] for r in replies),
            latencies=latency_percentiles(latencies),
            generator_cpu_percent=_busiest(replies),
            generators=len(replies),
        )

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        """Every worker paces rate/N for the whole probe. ``fail_fast`` is not applied: no worker sees the others'
        counts until the end, and one worker's share being certain to fail says nothing certain about the sum."""
        del fail_fast
        self._park()
        n = self.workers
        shared = {
            "rate": rate / n,
            "settle": self.settle_seconds,
            "seconds": seconds,
            "windows": windows,
            "late_ms": late_ms,
            "drain": self.drain_seconds,
        }
        requests = [{**shared, "phase": i / n} for i in range(n)]
        timeout = self.settle_seconds + seconds + self.drain_seconds + REPLY_GRACE_SECONDS
        replies = self._ask_all(protocol.OPEN_LOOP, requests, timeout)
        result = merge([OpenLoopTally.from_wire(r["tally"]) for r in replies])
        return open_loop_measurement(rate, result, _busiest(replies), generators=len(replies))

    # --- shutdown -----------------------------------------------------------------------------------------------
    def close(self) -> dict[str, Path]:
        """Flush every worker's stats, write the artefacts, quit the workers; returns artefact name -> path."""
        if not self._closed:
            self._closed = True
            # On failure the artefacts miss at most the last few seconds of a lost worker.
            with contextlib.suppress(GeneratorError):
                self._ask_all(protocol.FLUSH, [{}] * self._connected(), REPLY_GRACE_SECONDS)
            self._artifacts.finish()
            self.runner.quit()  # tells workers to quit
            self._launcher.stop()
        return self._artifacts.write_report()


def _busiest(replies: list[dict[str, Any]]) -> float | None:
    cpu = [r["cpu_percent"] for r in replies if r.get("cpu_percent") is not None]
    return max(cpu) if cpu else None
