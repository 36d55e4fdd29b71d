"""An open-loop probe's raw counts (``OpenLoopTally``) and the figures merged from them (``OpenLoopResult``).

No Locust here: this is plain arithmetic, shared by the pacer (one tally per generator process) and the
distributed master (which merges N of them), and unit-testable without gevent's monkey-patching.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rightsizing.models.common import LatencyPercentiles
from rightsizing.stats import latency_percentiles


@dataclass(frozen=True)
class Sent:
    scheduled: float
    late_s: float
    completed: float | None
    ok: bool

    @property
    def latency_s(self) -> float | None:
        """Seconds from the *scheduled* start to completion for a success; None for a failure."""
        return self.completed - self.scheduled if self.ok and self.completed is not None else None


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
    def from_wire(cls, data: dict[str, Any]) -> OpenLoopTally:
        return cls(**data)


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


def tally(
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
        if s.latency_s is not None:
            buckets[index].append(s.latency_s * 1000)
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
