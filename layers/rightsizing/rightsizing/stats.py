"""Pure statistics for load-test measurements (no AWS, no Locust).

Percentiles use the *nearest-rank* definition: the p-th percentile is the smallest sample such that at least a
fraction p of all samples are less than or equal to it. It always returns an observed latency (never an
interpolated one) and errs on the pessimistic side for small samples, which is what an SLA check wants.

Repeated trials (``load.trials``) are summarised by their mean, sample standard deviation and Student's t 95 %
interval, with a t table written once so the Lambda layer needs no scipy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.trials import TrialFigure, TrialStats


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


# --- repeated trials: mean, spread and Student's t interval ----------------------------------------------------------

# Student's t, two-sided 95 % (the 0.975 quantile), by degrees of freedom: written once (scipy.stats.t.ppf(0.975, df),
# checked in tests/unit/test_trial_stats.py) so the Lambda layer needs no scipy. load.trials is at most 10 (df 9).
T_975 = {
    1: 12.706205,
    2: 4.302653,
    3: 3.182446,
    4: 2.776445,
    5: 2.570582,
    6: 2.446912,
    7: 2.364624,
    8: 2.306004,
    9: 2.262157,
    10: 2.228139,
    11: 2.200985,
    12: 2.178813,
    13: 2.160369,
    14: 2.144787,
    15: 2.131450,
    16: 2.119905,
    17: 2.109816,
    18: 2.100922,
    19: 2.093024,
    20: 2.085963,
    21: 2.079614,
    22: 2.073873,
    23: 2.068658,
    24: 2.063899,
    25: 2.059539,
    26: 2.055529,
    27: 2.051831,
    28: 2.048407,
    29: 2.045230,
    30: 2.042272,
}
Z_975 = 1.959964


def t_975(degrees_of_freedom: int) -> float:
    """Student's t 0.975 quantile: the table up to 30, then the first terms of its expansion in 1/df (within 0.1 %)."""
    if degrees_of_freedom < 1:
        raise ValueError("a t interval needs at least 2 samples (1 degree of freedom)")
    if degrees_of_freedom in T_975:
        return T_975[degrees_of_freedom]
    z, df = Z_975, degrees_of_freedom
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class MeanInterval:
    """Mean, sample standard deviation and 95 % t interval of a small sample, with its spread (min, max)."""

    n: int
    mean: float
    std: float | None  # None for one sample: no spread to estimate
    low: float | None
    high: float | None
    minimum: float
    maximum: float


def mean_interval(values: Sequence[float]) -> MeanInterval:
    """mean ± t(0.975, n-1) · s / √n; one value has a mean and no interval (nothing to say how far it may be off)."""
    if not values:
        raise ValueError("mean of an empty sample")
    n = len(values)
    mean = math.fsum(values) / n
    if n == 1:
        return MeanInterval(1, mean, None, None, None, values[0], values[0])
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_975(n - 1) * std / math.sqrt(n)
    return MeanInterval(n, mean, std, mean - half, mean + half, min(values), max(values))


def combine_trials(figures: Sequence[TrialFigure], requested: int) -> TrialStats:
    """The trials' figures as one: mean, interval and spread over the measured ones, honest about floors.

    A trial that certified nothing (a floor of 0) is left out: it says nothing of the capacity. A floor that is
    positive is kept, and makes the combination a floor: the mean of values each at most its trial's capacity is at
    most the mean capacity; the interval is then computed on the floors as measured, so its lower end is still a
    cautious figure to size on but its upper end bounds nothing.
    """
    measured = [f for f in figures if f.measured]
    left_out = len(figures) - len(measured)
    dropped = f" {left_out} trial(s) certified nothing and are left out." if left_out else ""
    if not measured:
        return TrialStats(
            requested=requested,
            trials=list(figures),
            measured=0,
            lower_bound=True,
            note=f"No trial certified a rate within the SLA ({len(figures)} of {requested} ran).",
        )
    stats = mean_interval([f.sustainable_rps for f in measured])
    floors = any(f.lower_bound for f in measured)
    if stats.n == 1:
        note = "One measured trial: a figure, no interval (a 95 % interval needs 2 or more)."
    else:
        note = f"Mean of {stats.n} trials with Student's t 95 % interval."
        if stats.minimum == stats.maximum:
            # Open-loop figures are the rates a search offered: trials that took the same path agree to the digit.
            note += (
                " Every trial gave the same figure, so the interval has no width: it covers trial-to-trial variation "
                "only, and each figure is still within the search's own precision of the capacity."
            )
    if floors:
        note += (
            " At least one trial's figure is a lower bound, so the mean is a lower bound too and the interval's "
            "upper end bounds nothing."
        )
    if len(figures) < requested:
        note += f" Only {len(figures)} of {requested} trials ran in the time allowed."
    return TrialStats(
        requested=requested,
        trials=list(figures),
        measured=stats.n,
        mean_rps=round(stats.mean, 3),
        std_rps=None if stats.std is None else round(stats.std, 3),
        ci95_low_rps=None if stats.low is None else round(stats.low, 3),
        ci95_high_rps=None if stats.high is None else round(stats.high, 3),
        min_rps=stats.minimum,
        max_rps=stats.maximum,
        lower_bound=floors,
        note=note + dropped,
    )
