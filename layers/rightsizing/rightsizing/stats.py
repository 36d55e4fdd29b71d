"""Pure statistics for load-test measurements (no AWS, no Locust).

Percentiles use the *nearest-rank* definition: the p-th percentile is the smallest sample such that at least a
fraction p of all samples are less than or equal to it. It always returns an observed latency (never an
interpolated one) and errs on the pessimistic side for small samples, which is what an SLA check wants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rightsizing.models.common import LatencyPercentiles


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ascending ``sorted_values``; ``fraction`` in [0, 1] (0 gives the minimum)."""
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    # rank = ceil(p * n) is 1-based; p = 0 maps to the first sample. Rounding first stops float noise
    # (0.55 * 100 == 55.000000000000007) from pushing the rank one sample too high.
    rank = max(1, math.ceil(round(fraction * len(sorted_values), 9)))
    return float(sorted_values[rank - 1])


def latency_percentiles(values_ms: Iterable[float]) -> LatencyPercentiles | None:
    """p50/p90/p95/p99 of latencies in milliseconds, or None when there is no sample to summarise."""
    ordered = sorted(values_ms)
    if not ordered:
        return None
    return LatencyPercentiles(
        p50=percentile(ordered, 0.50),
        p90=percentile(ordered, 0.90),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
    )
