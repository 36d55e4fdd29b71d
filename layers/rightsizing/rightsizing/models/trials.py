"""Repeated trials: each trial's capacity figure and what they say together (mean, 95 % interval, spread).

The load generator runs the capacity search ``load.trials`` times against the same endpoint; ``TrialStats`` is
written in the load test's result and copied to the candidate's (``rightsizing.stats.combine_trials`` makes it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrialFigure(BaseModel):
    """One trial's answer: the search's figure, and whether it is a floor."""

    model_config = ConfigDict(extra="forbid")
    trial: int = Field(ge=1, description="1-based trial number, in the order they ran.")
    sustainable_rps: float
    saturation_rps: float
    lower_bound: bool = Field(False, description="The trial's figure is a floor (it ended before the capacity).")
    generator_limited: bool = False
    test_seconds: float
    stop_reason: str

    @property
    def measured(self) -> bool:
        """A floor of 0 is no figure at all (the trial certified nothing): it is left out of the statistics."""
        return not (self.lower_bound and self.sustainable_rps <= 0)


class TrialStats(BaseModel):
    """The trials' within-SLA figures combined. The interval is Student's t at 95 % on the measured trials, so it
    describes trial-to-trial variation (the endpoint, the host, the search's own noise), not a bias they share."""

    model_config = ConfigDict(extra="forbid")
    requested: int = Field(ge=1, description="load.trials of the request.")
    trials: list[TrialFigure]
    measured: int = Field(ge=0, description="Trials with a figure (a trial that certified nothing is left out).")
    mean_rps: float | None = Field(None, description="Mean within-SLA RPS over the measured trials.")
    std_rps: float | None = Field(None, description="Sample standard deviation (n - 1); None below 2 trials.")
    ci95_low_rps: float | None = Field(None, description="Lower end of the 95 % t interval of the mean (n >= 2).")
    ci95_high_rps: float | None = Field(None, description="Upper end of the 95 % t interval of the mean (n >= 2).")
    min_rps: float | None = Field(None, description="Lowest measured trial figure (the spread's bottom).")
    max_rps: float | None = Field(None, description="Highest measured trial figure (the spread's top).")
    lower_bound: bool = Field(
        False,
        description="At least one measured trial's figure is a floor, so the mean is a floor of the mean capacity; "
        "the interval is then of floors too (its upper end bounds nothing).",
    )
    note: str = Field("", description="What the figures mean, in words (no interval, floors, trials left out).")

    @property
    def has_interval(self) -> bool:
        return self.ci95_low_rps is not None and self.ci95_high_rps is not None
