"""What each generator process records from Locust's request events: totals for the whole test, and the requests
that *complete* inside a measured window (not Locust's cumulative stats, which mix every earlier step)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import gevent
import psutil
from locust.env import Environment
from locust.exception import CatchResponseError

T = TypeVar("T")


@dataclass
class Window:
    requests: int = 0
    failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0  # set when the window closes
    cpu_percent: float | None = None


@dataclass
class RequestTotals:
    """Every request of the test (settle periods included), to tell "endpoint down" from "endpoint erroring"."""

    requests: int = 0
    failures: int = 0
    transport_errors: int = 0  # no HTTP response at all: refused, reset, timed out
    last_transport_error: str = ""
    # Connections refused since the last HTTP response: nothing listens any more (a server that died mid-test),
    # which an overloaded server (timeouts, resets, 5xx) never causes.
    refused_since_answer: int = 0

    def to_wire(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def summed(cls, parts: list[RequestTotals]) -> RequestTotals:
        last_error = next((p.last_transport_error for p in reversed(parts) if p.last_transport_error), "")
        return cls(
            requests=sum(p.requests for p in parts),
            failures=sum(p.failures for p in parts),
            transport_errors=sum(p.transport_errors for p in parts),
            last_transport_error=last_error,
            refused_since_answer=sum(p.refused_since_answer for p in parts),
        )


class RequestRecorder:
    """Listens to ``env.events.request``; ``window`` and ``ramp_log`` are set by whoever is measuring."""

    def __init__(self, env: Environment) -> None:
        self.totals = RequestTotals()
        self.window: Window | None = None  # None: settle period or between probes
        self.ramp_log: deque[tuple[float, float, bool]] | None = None  # (completed, ms, ok) during a ramp
        request_hook: Any = env.events.request  # Locust's EventHook is untyped
        request_hook.add_listener(self._on_request)

    def record(self, seconds: float, cpu: CpuMeter) -> Window:
        """The completions of the next ``seconds``, with this process's CPU meanwhile (the caller sleeps)."""
        window = Window()
        self.window = window
        try:
            _, window.cpu_percent, window.seconds = cpu.around(lambda: gevent.sleep(seconds))
        finally:
            self.window = None
        return window

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
        if exception is None or isinstance(exception, CatchResponseError):  # the user reports statuses this way
            totals.refused_since_answer = 0  # an HTTP response, whatever its status: something still listens
        else:
            totals.transport_errors += 1
            totals.last_transport_error = f"{type(exception).__name__}: {exception}"
            if isinstance(exception, ConnectionRefusedError):
                totals.refused_since_answer += 1
        if self.ramp_log is not None:
            self.ramp_log.append((time.monotonic(), response_time, exception is None))
        window = self.window
        if window is None:
            return
        window.requests += 1
        if exception is None:
            window.latencies_ms.append(response_time)
        else:
            window.failures += 1


class CpuMeter:
    """This process's CPU use as a percentage of one core over an interval (the gevent generator is one thread)."""

    def __init__(self) -> None:
        self._process = psutil.Process()

    def seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def around(self, call: Callable[[], T]) -> tuple[T, float | None, float]:
        """Run ``call``; return its result, this process's CPU % of one core meanwhile, and the seconds it took."""
        cpu_before, started = self.seconds(), time.monotonic()
        result = call()
        elapsed = time.monotonic() - started
        return result, 100.0 * (self.seconds() - cpu_before) / elapsed if elapsed > 0 else None, elapsed
