"""Repeated trials of one search against one endpoint: how each trial is timed, started and combined (pure).

The load generator (``rightsizing_loadtest.trials``) runs the loop; everything it decides is here, so it can be
tested without Locust.
"""

from __future__ import annotations

from collections.abc import Sequence

from rightsizing.models.result import ProbeRecord
from rightsizing.models.trials import TrialFigure, TrialStats
from rightsizing.search.base import SearchOutcome
from rightsizing.stats import combine_trials

# Below this many seconds left, a further trial could not measure anything: the trials end with what they have.
MIN_SECONDS_LEFT = 5.0


def trial_budget(remaining_seconds: float, trials_left: int) -> float:
    """An equal share of what is left: a trial that ran short leaves more to the next, one that ran long less."""
    return max(0.0, remaining_seconds) / max(1, trials_left)


def figure_of(trial: int, outcome: SearchOutcome, seconds: float) -> TrialFigure:
    return TrialFigure(
        trial=trial,
        sustainable_rps=outcome.sustainable_rps,
        saturation_rps=outcome.saturation_rps,
        lower_bound=outcome.lower_bound,
        generator_limited=outcome.generator_limited,
        test_seconds=round(seconds, 3),
        stop_reason=outcome.stop_reason,
    )


def numbered(trial: int, first_index: int, probes: Sequence[ProbeRecord]) -> list[ProbeRecord]:
    """A trial's probes labelled with it and numbered after the earlier trials' (one trace, unique indexes)."""
    return [p.model_copy(update={"index": first_index + i, "trial": trial}) for i, p in enumerate(probes)]


def combine_outcomes(outcomes: Sequence[SearchOutcome], seconds: Sequence[float], requested: int) -> SearchOutcome:
    """One outcome for the trials: the mean as the figure, the highest rate seen as the saturation, the latency and
    error rate of the measured trial closest to the mean (its figure was measured; the mean never was), every
    probe numbered and labelled by trial. Its ``trials`` holds the statistics (``combine_trials``)."""
    if not outcomes:
        raise ValueError("no trial ran")
    figures = [figure_of(n, outcome, s) for n, (outcome, s) in enumerate(zip(outcomes, seconds, strict=True), 1)]
    stats = combine_trials(figures, requested)
    probes: list[ProbeRecord] = []
    for number, outcome in enumerate(outcomes, 1):
        probes += numbered(number, len(probes), outcome.probes)
    measured = [(f, o) for f, o in zip(figures, outcomes, strict=True) if f.measured]
    mean = stats.mean_rps or 0.0
    closest = min(measured, key=lambda pair: (abs(pair[0].sustainable_rps - mean), pair[0].trial), default=None)
    representative = closest[1] if closest else outcomes[-1]
    return SearchOutcome(
        probes=probes,
        sustainable_rps=mean,
        saturation_rps=max(o.saturation_rps for o in outcomes),
        latency_at_sustainable=representative.latency_at_sustainable,
        error_rate_at_sustainable=representative.error_rate_at_sustainable,
        stop_reason=_stop_reason(stats, closest[0] if closest else None),
        generator_limited=any(o.generator_limited for o in outcomes),
        lower_bound=stats.lower_bound,
        trials=stats,
    )


def _stop_reason(stats: TrialStats, representative: TrialFigure | None) -> str:
    if stats.mean_rps is None or representative is None:
        reasons = " | ".join(f"trial {f.trial}: {f.stop_reason}" for f in stats.trials)
        return f"{stats.note} {reasons}"
    interval = f", 95 % interval [{stats.ci95_low_rps:.1f}, {stats.ci95_high_rps:.1f}]" if stats.has_interval else ""
    return (
        f"{stats.measured} trial(s): mean {stats.mean_rps:.1f} RPS{interval}, spread "
        f"{stats.min_rps:.1f}-{stats.max_rps:.1f}. {stats.note} Trial {representative.trial} (closest to the mean; "
        f"its latency is reported): {representative.stop_reason}"
    )
