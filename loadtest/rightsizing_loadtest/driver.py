"""``LocustProbe``: a ``LoadProbe`` that drives Locust as a library (one process, gevent).

Each probe is measured from ``env.events.request`` as requests *complete* inside its window (see ``recorder``).
Locust's own stats still cover the whole test and are kept as artefacts (see ``artifacts``).

Users are held between probes and re-targeted in place (``runner.start`` while running ramps up or down): a Locust
stop/start cycle clears its cumulative stats, which would leave the artefacts describing only the last probe, and
warm connections make the settle period shorter. ``close()`` stops every user and background greenlet.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import gevent
from locust import User
from locust.env import Environment
from locust.runners import Runner

from rightsizing.search.base import FailFast, ProbeMeasurement
from rightsizing.search.ramp import RampMeasurement
from rightsizing.stats import latency_percentiles
from rightsizing_loadtest.artifacts import LocustArtifacts
from rightsizing_loadtest.openloop import OpenLoopPacer
from rightsizing_loadtest.recorder import CpuMeter, RequestRecorder, RequestTotals
from rightsizing_loadtest.tally import OpenLoopResult, merge


class _HighSpawnRateFilter(logging.Filter):
    """Spawning a whole step at once is intended here; Locust's ">100 users/s" advice is for interactive ramps."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "spawn rate is very high" not in record.getMessage()


logging.getLogger("locust.runners").addFilter(_HighSpawnRateFilter())


def set_users(runner: Runner, users: int, timeout_seconds: float) -> None:
    """Re-target the running users; the whole difference spawns (or stops) in one tick: the settle period, not a
    ramp, absorbs the transient."""
    current = runner.user_count
    runner.start(users, spawn_rate=float(max(1, abs(users - current))))
    deadline = time.monotonic() + timeout_seconds
    while runner.user_count != users and time.monotonic() < deadline:
        gevent.sleep(0.02)


class HeldUsers:
    """What a probe does with Locust's users before measuring, in-process (``LocustProbe``) or distributed
    (``DistributedProbe``): re-target them and let them settle for a closed-loop window, park them for an open one."""

    runner: Runner
    settle_seconds: float
    spawn_timeout_seconds: float
    _closed: bool

    def _hold(self, users: int, seconds: float, *, settle: bool) -> None:
        self._check_open()
        if users < 1 or seconds <= 0:
            raise ValueError("a probe needs at least one user and a positive window")
        set_users(self.runner, users, self.spawn_timeout_seconds)
        gevent.sleep(self.settle_seconds if settle else 0.0)

    def _park(self) -> None:
        """No closed-loop users while the open-loop pacer sends."""
        self._check_open()
        if self.runner.user_count:
            set_users(self.runner, 0, self.spawn_timeout_seconds)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("probe is closed")


def open_loop_measurement(
    rate: float,
    result: OpenLoopResult,
    cpu_percent: float | None,
    generators: int = 1,
    *,
    stopped_early: bool = False,
) -> ProbeMeasurement:
    return ProbeMeasurement(
        users=0,
        seconds=result.seconds,
        requests=result.requests,
        failures=result.failures,
        latencies=result.latencies,
        generator_cpu_percent=cpu_percent,
        offered_rps=rate,
        late_share=result.late_share,
        window_rps=result.window_rps,
        window_latencies=result.window_latencies,
        generators=generators,
        stopped_early=stopped_early,
    )


class LocustProbe(HeldUsers):
    def __init__(
        self,
        user_class: type[User],
        host: str,
        artifacts_dir: Path,
        *,
        settle_seconds: float = 1.0,
        spawn_timeout_seconds: float = 30.0,
        open_loop: Callable[[Environment], OpenLoopPacer] | None = None,
        drain_seconds: float = 2.0,
        open_settle_seconds: float | None = None,
    ) -> None:
        self.settle_seconds = settle_seconds
        # Unmeasured sends before an open-loop probe's window (default: the closed-loop settle).
        self.open_settle_seconds = settle_seconds if open_settle_seconds is None else open_settle_seconds
        self.drain_seconds = drain_seconds
        self.spawn_timeout_seconds = spawn_timeout_seconds
        self.artifacts_dir = artifacts_dir
        self.env = Environment(user_classes=[user_class], host=host)
        self.runner = self.env.create_local_runner()
        self._recorder = RequestRecorder(self.env)
        self._pacer = open_loop(self.env) if open_loop else None
        self._cpu = CpuMeter()
        self._closed = False
        self._artifacts = LocustArtifacts(self.env, artifacts_dir)

    @property
    def totals(self) -> RequestTotals:
        return self._recorder.totals

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        self._hold(users, seconds, settle=settle)
        window = self._recorder.record(seconds, self._cpu)
        return ProbeMeasurement(
            users=users,
            seconds=window.seconds,
            requests=window.requests,
            failures=window.failures,
            latencies=latency_percentiles(window.latencies_ms),
            generator_cpu_percent=window.cpu_percent,
        )

    def measure_rate(
        self, rate: float, seconds: float, windows: int, late_ms: float, fail_fast: FailFast | None = None
    ) -> ProbeMeasurement:
        """Open loop at ``rate`` requests/s (see ``openloop``); closed-loop users are parked meanwhile."""
        if self._pacer is None:
            raise RuntimeError("this probe was built without an open-loop pacer")
        self._park()
        pacer = self._pacer
        tally, cpu_percent, _ = self._cpu.around(
            lambda: pacer.run(
                rate, self.open_settle_seconds, seconds, windows, late_ms, self.drain_seconds, fail_fast=fail_fast
            )
        )
        return open_loop_measurement(rate, merge([tally]), cpu_percent, stopped_early=tally.seconds < seconds)

    def ramp(
        self, spawn_rate: float, max_users: int, stop_failure_ratio: float, budget_seconds: float, window: float
    ) -> RampMeasurement:
        """The classic method: Locust ramps users itself; stop on the *cumulative* failure ratio (as it did)."""
        log: deque[tuple[float, float, bool]] = deque()
        self._recorder.ramp_log = log
        started = time.monotonic()

        def run_ramp() -> str:
            self.runner.start(max_users, spawn_rate=spawn_rate)
            while time.monotonic() - started < budget_seconds:
                gevent.sleep(0.5)
                total = self.env.stats.total
                if total.num_requests >= 100 and total.fail_ratio >= stop_failure_ratio:
                    return f"cumulative failure ratio reached {total.fail_ratio:.1%} at {self.runner.user_count} users"
                now = time.monotonic()
                while log and log[0][0] < now - window:
                    log.popleft()
            return f"time budget of {budget_seconds:.0f} s used up"

        reason, cpu_percent, _ = self._cpu.around(run_ramp)
        end = time.monotonic()
        last = [entry for entry in log if entry[0] >= end - window]
        self._recorder.ramp_log = None
        span = min(window, end - started)
        ok = [ms for _, ms, success in last if success]
        measured = ProbeMeasurement(
            users=self.runner.user_count,
            seconds=span,
            requests=len(last),
            failures=len(last) - len(ok),
            latencies=latency_percentiles(ok),
            generator_cpu_percent=cpu_percent,
        )
        return RampMeasurement(
            last_window=measured, users=self.runner.user_count, seconds=end - started, stop_reason=reason
        )

    def close(self) -> dict[str, Path]:
        """Stop users and greenlets, write the final CSVs and the HTML report; returns artefact name -> path."""
        if not self._closed:
            self._closed = True
            self._recorder.window = None
            self._artifacts.finish()
            self.runner.quit()  # stops users (killing in-flight requests) and the runner's own greenlets
        return self._artifacts.write_report()
