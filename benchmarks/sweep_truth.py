"""Turn a fixed-rate sweep into one SLA-bound rate, robustly to noise at the knee (no Locust here; unit-testable).

Near saturation a real server's p95 over a finite window is noisy: one 30 s window at 95 RPS may read 36 ms, the
next 100 ms. "The highest rate such that every lower rate passed" then lands wherever the first unlucky window is,
which biases the truth low and depends on luck. Instead, p95 is assumed to grow with the rate (it does, in
expectation), the measured points are fitted by the closest non-decreasing curve (isotonic regression, which pools
neighbours that disagree), and the truth is where that curve crosses the SLA, interpolated between grid points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sklearn.isotonic import IsotonicRegression

# A rate that failed on errors or fell behind counts as this many SLAs of latency: far over, but finite for the fit.
OVERLOAD_SLAS = 10.0


def sla_crossing(rates: Sequence[float], p95s: Sequence[float | None], sla_ms: float) -> float | None:
    """Rate where the isotonic fit of p95 vs rate reaches ``sla_ms``; None when even the lowest rate is over it.

    ``None`` entries in ``p95s`` (no latency, or overloaded) count as OVERLOAD_SLAS x the SLA. When the fit never
    reaches the SLA, the answer is the highest rate swept (a lower bound).
    """
    if len(rates) != len(p95s) or not rates:
        raise ValueError("need one p95 per rate, and at least one rate")
    if list(rates) != sorted(rates):
        raise ValueError("rates must be ascending")
    cap = OVERLOAD_SLAS * sla_ms
    ys = [cap if v is None or math.isnan(v) else min(v, cap) for v in p95s]
    fitted = IsotonicRegression(increasing=True).fit_transform(list(rates), ys)
    if fitted[0] > sla_ms:
        return None
    for i in range(1, len(rates)):
        if fitted[i] > sla_ms:
            lo, hi = fitted[i - 1], fitted[i]
            share = (sla_ms - lo) / (hi - lo)  # hi > sla_ms >= lo, so hi > lo
            return rates[i - 1] + share * (rates[i] - rates[i - 1])
    return float(rates[-1])


def strict_boundary(rates: Sequence[float], passed: Sequence[bool]) -> float:
    """The naive reading, for comparison: the highest rate such that it and every lower rate passed (0 if none)."""
    best = 0.0
    for rate, ok in zip(rates, passed, strict=True):
        if not ok:
            break
        best = rate
    return best
