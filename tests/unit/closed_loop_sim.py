"""A simulated closed-loop server and a fake clock, shared by the unit tests of the closed-loop searches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rightsizing.models.common import LatencyPercentiles
from rightsizing.search import ProbeMeasurement


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ClosedLoopServer:
    """``slots`` workers with service time ``service_ms`` (+ ``contention_ms_per_user`` per busy worker).

    Closed loop with N users: throughput = min(N, c) / S and latency = S * max(1, N / c) (Little's law), with the
    tail a fixed multiple of the mean. Each probe advances the fake clock by its window, plus ``settle_seconds``
    when it settles first; ``calls`` records (users, seconds) and ``settled`` whether it settled.
    """

    clock: FakeClock
    slots: int = 4
    service_ms: float = 20.0
    contention_ms_per_user: float = 0.0
    settle_seconds: float = 1.0
    error_rate: Callable[[int], float] = lambda users: 0.0
    cpu_percent: Callable[[int], float | None] = lambda users: 10.0
    calls: list[tuple[int, float]] = field(default_factory=list)
    settled: list[bool] = field(default_factory=list)

    @property
    def users(self) -> list[int]:
        return [users for users, _ in self.calls]

    def measure(self, users: int, seconds: float, *, settle: bool = True) -> ProbeMeasurement:
        self.calls.append((users, seconds))
        self.settled.append(settle)
        self.clock.now += (self.settle_seconds if settle else 0.0) + seconds
        busy = min(users, self.slots)
        service_ms = self.service_ms + self.contention_ms_per_user * busy
        latency_ms = service_ms * max(1.0, users / self.slots)
        requests = round(busy / (service_ms / 1000) * seconds)
        failures = round(requests * self.error_rate(users))
        latencies = (
            LatencyPercentiles(p50=latency_ms, p90=latency_ms * 1.1, p95=latency_ms * 1.2, p99=latency_ms * 1.5)
            if requests > failures
            else None
        )
        return ProbeMeasurement(users, seconds, requests, failures, latencies, self.cpu_percent(users))
