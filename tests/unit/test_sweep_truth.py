"""The (c) benchmark's truth: where a non-decreasing fit of p95 vs rate crosses the SLA (benchmarks/sweep_truth.py)."""

from __future__ import annotations

import pytest
import sweep_truth  # benchmarks/ is on the tests' path (pyproject.toml)


def test_a_monotone_sweep_crosses_between_its_grid_points() -> None:
    # p95 20 ms at 90 RPS and 80 ms at 100 RPS: the 50 ms SLA is crossed halfway.
    assert sweep_truth.sla_crossing([80, 90, 100], [15, 20, 80], 50) == pytest.approx(95)


def test_one_unlucky_window_at_the_knee_is_pooled_with_its_neighbour() -> None:
    # 85 RPS read 72 ms, 90 RPS read 22 ms: the fit pools them (47 ms each) instead of ending the truth at 80.
    rates, p95s = [80, 85, 90, 95, 100], [15, 72, 22, 100, 300]
    assert sweep_truth.strict_boundary(rates, [p <= 50 for p in p95s]) == 80
    assert sweep_truth.sla_crossing(rates, p95s, 50) == pytest.approx(90 + 5 * 3 / 53)


def test_overload_counts_as_far_over_and_the_edges_are_explicit() -> None:
    assert sweep_truth.sla_crossing([80, 90], [20, None], 50) == pytest.approx(80 + 10 * 30 / 480)
    assert sweep_truth.sla_crossing([80, 90], [60, 90], 50) is None  # even the lowest rate fails
    assert sweep_truth.sla_crossing([80, 90], [20, 30], 50) == 90  # never crossed: a lower bound
    with pytest.raises(ValueError, match="ascending"):
        sweep_truth.sla_crossing([90, 80], [20, 30], 50)
