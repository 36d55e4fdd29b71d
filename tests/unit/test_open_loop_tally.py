"""Open-loop tallies: one per generator process, merged window by window (distributed mode)."""

from __future__ import annotations

import pytest

from rightsizing_loadtest.tally import OpenLoopTally, Sent, merge, tally

LATE_S = 0.005


def _sends(rate: float, seconds: float, latency_s: float, phase: float = 0.0, late_s: float = 0.0) -> list[Sent]:
    count = int(rate * seconds)
    return [Sent((k + phase) / rate, late_s, (k + phase) / rate + latency_s, True) for k in range(count)]


def test_one_tally_counts_windows_by_scheduled_time() -> None:
    sends = _sends(100, 3.0, 0.010)
    result = merge([tally(sends, 0, 0.0, 3.0, 3, LATE_S)])
    assert result.requests == 300 and result.failures == 0
    assert result.window_rps == pytest.approx((100.0, 100.0, 100.0))
    assert result.latencies is not None and result.latencies.p95 == pytest.approx(10.0)
    assert result.late_share == 0.0


def test_interleaved_workers_merge_into_the_whole_rate() -> None:
    """Two workers at rate/2, shifted by half an interval, are one generator at the full rate."""
    fast = tally(_sends(50, 3.0, 0.010), 0, 0.0, 3.0, 3, LATE_S)
    slow = tally(_sends(50, 3.0, 0.030, phase=0.5), 0, 0.0, 3.0, 3, LATE_S)
    result = merge([fast, slow])
    assert result.requests == 300
    assert result.window_rps == pytest.approx((100.0, 100.0, 100.0))
    assert result.latencies is not None
    assert result.latencies.p50 == pytest.approx(10.0)  # 150 samples at 10 ms, 150 at 30 ms: rank 150 is 10 ms
    assert result.latencies.p95 == pytest.approx(30.0)  # percentiles over raw samples, not averaged percentiles


def test_late_sends_and_pending_requests_are_counted_across_workers() -> None:
    on_time = tally(_sends(50, 2.0, 0.010), 0, 0.0, 2.0, 2, LATE_S)
    behind = tally(_sends(50, 2.0, 0.010, late_s=0.020), 5, 0.0, 2.0, 2, LATE_S)
    result = merge([on_time, behind])
    assert result.late_share == pytest.approx(0.5)
    assert result.requests == 205 and result.failures == 5  # never-completed requests are failures


def test_tally_survives_the_wire() -> None:
    original = tally(_sends(40, 2.0, 0.015), 2, 0.0, 2.0, 2, LATE_S)
    assert OpenLoopTally.from_wire(original.to_wire()) == original


def test_merge_needs_a_tally() -> None:
    with pytest.raises(ValueError):
        merge([])
