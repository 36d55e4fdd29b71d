"""Repeated trials: the t interval against known samples, how floors combine, and one outcome from several."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.result import ProbeRecord
from rightsizing.models.trials import TrialFigure
from rightsizing.search.base import SearchOutcome
from rightsizing.search.trials import combine_outcomes, trial_budget
from rightsizing.stats import T_975, combine_trials, mean_interval, t_975


def _figure(trial: int, rps: float, floor: bool = False) -> TrialFigure:
    return TrialFigure(
        trial=trial, sustainable_rps=rps, saturation_rps=rps * 1.1, lower_bound=floor, test_seconds=30, stop_reason="x"
    )


def test_the_t_table_is_scipys_and_its_tail_within_a_thousandth() -> None:
    for df, value in T_975.items():
        assert value == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=1e-6), df
    for df in (31, 40, 60, 120, 1000):
        assert t_975(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), rel=1e-3), df
    with pytest.raises(ValueError, match="at least 2 samples"):
        t_975(0)


def test_known_sample_gives_the_students_t_interval() -> None:
    # 10, 12, 14: mean 12, s = 2, half-width t(0.975, 2) x 2 / sqrt(3) = 4.302653 x 1.154701 = 4.968275
    interval = mean_interval([10.0, 12.0, 14.0])
    assert (interval.n, interval.mean, interval.std) == (3, 12.0, 2.0)
    assert interval.low == pytest.approx(7.031725, abs=1e-6)
    assert interval.high == pytest.approx(16.968275, abs=1e-6)
    assert (interval.minimum, interval.maximum) == (10.0, 14.0)
    sample = [402.0, 388.5, 410.2, 395.0, 399.9]
    low, high = scipy_stats.t.interval(0.95, len(sample) - 1, loc=sum(sample) / 5, scale=scipy_stats.sem(sample))
    ours = mean_interval(sample)
    assert (ours.low, ours.high) == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4))


def test_one_value_has_a_mean_and_no_interval() -> None:
    interval = mean_interval([250.0])
    assert interval.mean == 250.0 and interval.std is None and interval.low is None and interval.high is None
    with pytest.raises(ValueError):
        mean_interval([])


def test_measured_trials_combine_into_mean_interval_and_spread() -> None:
    stats = combine_trials([_figure(1, 10), _figure(2, 12), _figure(3, 14)], requested=3)
    assert (stats.measured, stats.mean_rps, stats.std_rps, stats.min_rps, stats.max_rps) == (3, 12.0, 2.0, 10, 14)
    assert (stats.ci95_low_rps, stats.ci95_high_rps) == (7.032, 16.968)
    assert not stats.lower_bound and stats.has_interval


def test_a_positive_floor_makes_the_combination_a_floor() -> None:
    # Trial 3 was generator-limited at 90: its capacity is >= 90, so the mean of (100, 104, >= 90) is >= 98.
    stats = combine_trials([_figure(1, 100), _figure(2, 104), _figure(3, 90, floor=True)], requested=3)
    assert stats.lower_bound and stats.measured == 3
    assert stats.mean_rps == pytest.approx(98.0)
    assert "lower bound" in stats.note and "upper end bounds nothing" in stats.note


def test_a_trial_that_certified_nothing_is_left_out_not_counted_as_zero() -> None:
    stats = combine_trials([_figure(1, 100), _figure(2, 0, floor=True), _figure(3, 110)], requested=3)
    assert stats.measured == 2 and stats.mean_rps == pytest.approx(105.0)
    assert not stats.lower_bound  # the left-out trial says nothing, so it does not make the rest a floor
    assert "1 trial(s) certified nothing" in stats.note
    nothing = combine_trials([_figure(1, 0, floor=True), _figure(2, 0, floor=True)], requested=2)
    assert nothing.measured == 0 and nothing.mean_rps is None and nothing.lower_bound


def test_a_measured_zero_is_a_figure() -> None:
    # No rate met the SLA (not a floor): a real 0, which pulls the mean down.
    stats = combine_trials([_figure(1, 0), _figure(2, 20)], requested=2)
    assert stats.measured == 2 and stats.mean_rps == 10.0 and stats.ci95_low_rps is not None


def test_one_measured_trial_says_it_has_no_interval() -> None:
    stats = combine_trials([_figure(1, 100), _figure(2, 0, floor=True)], requested=2)
    assert stats.measured == 1 and stats.mean_rps == 100 and not stats.has_interval
    assert "no interval" in stats.note


def test_identical_trials_say_their_interval_has_no_width() -> None:
    stats = combine_trials([_figure(1, 94), _figure(2, 94), _figure(3, 94)], requested=3)
    assert (stats.ci95_low_rps, stats.ci95_high_rps, stats.std_rps) == (94, 94, 0)
    assert "no width" in stats.note


def _probe(index: int, rps: float) -> ProbeRecord:
    return ProbeRecord(
        index=index, users=0, seconds=3, requests=30, failures=0, rps=rps, error_rate=0, latency_ms=None, passed=True
    )


def _outcome(rps: float, p95: float, *, floor: bool = False, probes: int = 2) -> SearchOutcome:
    return SearchOutcome(
        probes=[_probe(i, rps) for i in range(probes)],
        sustainable_rps=rps,
        saturation_rps=rps + 10,
        latency_at_sustainable=LatencyPercentiles(p50=1, p90=2, p95=p95, p99=4),
        error_rate_at_sustainable=0.0,
        stop_reason=f"stopped at {rps}",
        generator_limited=floor,
        lower_bound=floor,
    )


def test_outcomes_combine_into_the_mean_with_every_probe_labelled_by_trial() -> None:
    combined = combine_outcomes([_outcome(100, 30), _outcome(110, 35, probes=3), _outcome(90, 25)], [30, 31, 29], 3)
    assert combined.sustainable_rps == 100.0 and combined.saturation_rps == 120
    assert combined.latency_at_sustainable is not None and combined.latency_at_sustainable.p95 == 30  # trial 1 = mean
    assert [(p.index, p.trial) for p in combined.probes] == [
        (0, 1), (1, 1), (2, 2), (3, 2), (4, 2), (5, 3), (6, 3)
    ]  # fmt: skip
    assert combined.trials is not None and [f.test_seconds for f in combined.trials.trials] == [30, 31, 29]
    assert combined.stop_reason.startswith("3 trial(s): mean 100.0 RPS, 95 % interval [")
    assert not combined.lower_bound


def test_a_generator_limited_trial_makes_the_combined_outcome_a_lower_bound() -> None:
    combined = combine_outcomes([_outcome(100, 30), _outcome(80, 20, floor=True)], [30, 30], 2)
    assert combined.lower_bound and combined.generator_limited and combined.sustainable_rps == 90


def test_each_trial_gets_an_equal_share_of_what_is_left() -> None:
    assert trial_budget(90, 3) == 30
    assert trial_budget(50, 2) == 25  # trial 1 overran its 30 s: the last two share what is left
    assert trial_budget(-5, 1) == 0
    assert math.isfinite(trial_budget(10, 0))
