"""``LocustProbe``: a ``LoadProbe`` that drives Locust as a library (one process, gevent).

Each probe is measured from ``env.events.request`` as requests *complete* inside its window, not from Locust's
cumulative stats (those mix every earlier step and the ramp). Locust's own stats still cover the whole test and are
kept as artefacts: the CSV files (with full history) and the HTML report.

Users are held between probes and re-targeted in place (``runner.start`` while running ramps up or down): a Locust
stop/start cycle clears its cumulative stats, which would leave the artefacts describing only the last probe, and
warm connections make the settle period shorter. ``close()`` stops every user and background greenlet.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import psutil
from locust import User
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.html import get_html_report
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

from rightsizing.search.base import ProbeMeasurement
from rightsizing.search.ramp import RampMeasurement
from rightsizing.stats import latency_percentiles
from rightsizing_loadtest.openloop import OpenLoopPacer

LOCUST_CSV_PREFIX = "locust"
LOCUST_ARTIFACTS = {
    "locust_stats": "locust_stats.csv",
    "locust_stats_history": "locust_stats_history.csv",
    "locust_failures": "locust_failures.csv",
    "locust_exceptions": "locust_exceptions.csv",
    "locust_report": "locust_report.html",
}


class _HighSpawnRateFilter(logging.Filter):
    """Spawning a whole step at once is intended here; Locust's ">100 users/s" advice is for interactive ramps."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "spawn rate is very high" not in record.getMessage()


logging.getLogger("locust.runners").addFilter(_HighSpawnRateFilter())


@dataclass
class _Window:
    requests: int = 0
    failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)


@dataclass
class RequestTotals:
    """Every request of the test (settle periods included), to tell "endpoint down" from "endpoint erroring"."""

    requests: int = 0
    failures: int = 0
    transport_errors: int = 0  # no HTTP response at all: refused, reset, timed out
    last_transport_error: str = ""


class _FinalCSVWriter(StatsCSVFileWriter):
    """Locust rewrites its CSVs once a second and never writes a last snapshot; ``finish`` does, then closes."""

    def finish(self) -> None:
        for handle, writer, write in (
            (self.requests_csv_filehandle, self.requests_csv_writer, self.requests_csv),
            (self.failures_csv_filehandle, self.failures_csv_writer, self.failures_csv),
            (self.exceptions_csv_filehandle, self.exceptions_csv_writer, self.exceptions_csv),
        ):
            handle.seek(0)
            handle.truncate()
            write(writer)  # header + rows
        if self.stats_history_csv_filehandle.tell() == 0:  # the periodic writer never got to run
            self.stats_history_csv_writer.writerow(self.stats_history_csv_columns)
        # One last timestamped row so the history ends where the test ended.
        self._stats_history_data_rows(self.stats_history_csv_writer, time.time())
        self.close_files()


class LocustProbe:
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
    ) -> None:
        self.settle_seconds = settle_seconds
        self.drain_seconds = drain_seconds
        self.spawn_timeout_seconds = spawn_timeout_seconds
        self.artifacts_dir = artifacts_dir
        self.totals = RequestTotals()
        self.env = Environment(user_classes=[user_class], host=host)
        self.runner = self.env.create_local_runner()
        self.env.events.request.add_listener(self._on_request)
        self._window: _Window | None = None
        self._ramp_log: deque[tuple[float, float, bool]] | None = None  # (completed, ms, ok) during a ramp
        self._pacer = open_loop(self.env) if open_loop else None
        self._process = psutil.Process()
        self._closed = False
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        self._csv = _FinalCSVWriter(
            self.env, PERCENTILES_TO_REPORT, str(artifacts_dir / LOCUST_CSV_PREFIX), full_history=True
        )
        # The CSV writer and the history sampler (charts of the HTML report) run beside the users for the whole test.
        self._background = [gevent.spawn(self._csv.stats_writer), gevent.spawn(stats_history, self.runner)]

    def _on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: BaseException | None = None,
        **_kwargs: object,
    ) -> None:
        totals = self.totals
        totals.requests += 1
        if exception is not None:
            totals.failures += 1
            if not isinstance(exception, CatchResponseError):  # the user reports HTTP statuses as CatchResponseError
                totals.transport_errors += 1
                totals.last_transport_error = f"{type(exception).__name__}: {exception}"
        if self._ramp_log is not None:
            self._ramp_log.append((time.monotonic(), response_time, exception is None))
        window = self._window
        if window is None:  # settle period or between probes
            return
        window.requests += 1
        if exception is None:
            window.latencies_ms.append(response_time)
        else:
            window.failures += 1

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def _set_users(self, users: int) -> None:
        current = self.runner.user_count
        # Spawn (or stop) the whole difference in one tick: the settle period, not a ramp, absorbs the transient.
        self.runner.start(users, spawn_rate=float(max(1, abs(users - current))))
        deadline = time.monotonic() + self.spawn_timeout_seconds
        while self.runner.user_count != users and time.monotonic() < deadline:
            gevent.sleep(0.02)

    def measure(self, users: int, seconds: float) -> ProbeMeasurement:
        if self._closed:
            raise RuntimeError("probe is closed")
        if users < 1 or seconds <= 0:
            raise ValueError("a probe needs at least one user and a positive window")
        self._set_users(users)
        gevent.sleep(self.settle_seconds)
        window = _Window()
        cpu_before = self._cpu_seconds()
        started = time.monotonic()
        self._window = window
        try:
            gevent.sleep(seconds)
        finally:
            self._window = None
        elapsed = time.monotonic() - started
        cpu_percent = 100.0 * (self._cpu_seconds() - cpu_before) / elapsed if elapsed > 0 else None
        return ProbeMeasurement(
            users=users,
            seconds=elapsed,
            requests=window.requests,
            failures=window.failures,
            latencies=latency_percentiles(window.latencies_ms),
            generator_cpu_percent=cpu_percent,
        )

    def measure_rate(self, rate: float, seconds: float, windows: int, late_ms: float) -> ProbeMeasurement:
        """Open loop at ``rate`` requests/s (see ``openloop``); closed-loop users are parked meanwhile."""
        if self._pacer is None:
            raise RuntimeError("this probe was built without an open-loop pacer")
        if self.runner.user_count:
            self._set_users(0)
        cpu_before, started = self._cpu_seconds(), time.monotonic()
        result = self._pacer.run(rate, self.settle_seconds, seconds, windows, late_ms, self.drain_seconds)
        elapsed = time.monotonic() - started
        return ProbeMeasurement(
            users=0,
            seconds=result.seconds,
            requests=result.requests,
            failures=result.failures,
            latencies=result.latencies,
            generator_cpu_percent=100.0 * (self._cpu_seconds() - cpu_before) / elapsed if elapsed > 0 else None,
            offered_rps=rate,
            late_share=result.late_share,
            window_rps=result.window_rps,
            window_latencies=result.window_latencies,
        )

    def ramp(
        self, spawn_rate: float, max_users: int, stop_failure_ratio: float, budget_seconds: float, window: float
    ) -> RampMeasurement:
        """The classic method: Locust ramps users itself; stop on the *cumulative* failure ratio (as it did)."""
        self._ramp_log = deque()
        started = time.monotonic()
        self.runner.start(max_users, spawn_rate=spawn_rate)
        reason = f"time budget of {budget_seconds:.0f} s used up"
        cpu_before = self._cpu_seconds()
        while time.monotonic() - started < budget_seconds:
            gevent.sleep(0.5)
            total = self.env.stats.total
            if total.num_requests >= 100 and total.fail_ratio >= stop_failure_ratio:
                reason = f"cumulative failure ratio reached {total.fail_ratio:.1%} at {self.runner.user_count} users"
                break
            now = time.monotonic()
            while self._ramp_log and self._ramp_log[0][0] < now - window:
                self._ramp_log.popleft()
        end = time.monotonic()
        last = [entry for entry in self._ramp_log if entry[0] >= end - window]
        self._ramp_log = None
        span = min(window, end - started)
        ok = [ms for _, ms, success in last if success]
        measured = ProbeMeasurement(
            users=self.runner.user_count,
            seconds=span,
            requests=len(last),
            failures=len(last) - len(ok),
            latencies=latency_percentiles(ok),
            generator_cpu_percent=100.0 * (self._cpu_seconds() - cpu_before) / max(end - started, 1e-9),
        )
        return RampMeasurement(last_window=measured, users=self.runner.user_count, seconds=end - started,
                               stop_reason=reason)

    def close(self) -> dict[str, Path]:
        """Stop users and greenlets, write the final CSVs and the HTML report; returns artefact name -> path."""
        if not self._closed:
            self._closed = True
            self._window = None
            gevent.killall(self._background, block=True, timeout=5)
            self._csv.finish()  # before quit, so the last history row still shows the user count
            self.runner.quit()  # stops users (killing in-flight requests) and the runner's own greenlets
            html = get_html_report(self.env, show_download_link=False)
            (self.artifacts_dir / LOCUST_ARTIFACTS["locust_report"]).write_text(html, encoding="utf-8")
        return {name: self.artifacts_dir / filename for name, filename in LOCUST_ARTIFACTS.items()}
