from __future__ import annotations

import pytest

from rightsizing.models.common import LatencyPercentiles
from rightsizing.stats import latency_percentiles, percentile


def test_percentile_uses_nearest_rank_on_hundred_samples() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0


def test_percentile_returns_an_observed_sample_not_an_interpolation() -> None:
    assert percentile([10.0, 20.0], 0.5) == 10.0
    assert percentile([10.0, 20.0], 0.51) == 20.0


def test_percentile_is_not_pushed_up_by_float_noise() -> None:
    # 0.55 * 100 is 55.000000000000007 in binary floating point; the rank must still be 55.
    assert percentile([float(v) for v in range(1, 101)], 0.55) == 55.0


def test_percentile_zero_fraction_gives_minimum() -> None:
    assert percentile([3.0, 4.0, 5.0], 0.0) == 3.0


def test_percentile_single_sample_is_every_percentile() -> None:
    assert percentile([7.5], 0.01) == 7.5
    assert percentile([7.5], 0.99) == 7.5


def test_percentile_rejects_empty_sample() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 0.5)


@pytest.mark.parametrize("fraction", [-0.1, 1.01])
def test_percentile_rejects_fraction_outside_unit_interval(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], fraction)


def test_latency_percentiles_sorts_unordered_input() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert latency_percentiles(values) == LatencyPercentiles(p50=50.0, p90=90.0, p95=95.0, p99=99.0)


def test_latency_percentiles_none_without_samples() -> None:
    assert latency_percentiles([]) is None


def test_latency_percentiles_small_sample_is_pessimistic_tail() -> None:
    # With 10 samples, p95 and p99 are the slowest request: nearest rank never under-reports the tail.
    result = latency_percentiles([1.0] * 9 + [50.0])
    assert result is not None
    assert result.p50 == 1.0
    assert result.p90 == 1.0
    assert result.p95 == 50.0
    assert result.p99 == 50.0
