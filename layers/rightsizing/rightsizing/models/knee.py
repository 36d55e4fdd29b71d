"""The knee curve: capacity at several latency bounds in one run (the request's ``knee``, and what the result says).

Every load-search probe is a point (rate, latency percentiles, errors); for each bound at the SLA's percentile the
capacity is the highest rate whose probe met that bound, judged by the same rules as the SLA itself. The SLA is always
one of the bounds, and its capacity is the run's answer, unchanged. See docs/load-search.md (The knee curve).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.models.common import LatencyPercentiles, Percentile, StrictModel
from rightsizing.models.targets import MAX_SLA_MS, MIN_SLA_MS, LatencySla

MAX_KNEE_BOUNDS = 6  # the SLA included: a chart with more lines than that is no longer read
DEFAULT_EXTRA_PROBES = 4  # with `knee` given: about two probes for each of two extra bounds
MAX_EXTRA_PROBES = 20
# Without `knee` in the request: half and twice the SLA, from the probes already made (no extra probe, no cost).
DEFAULT_FACTORS = (0.5, 2.0)
# The SLA rule (rightsizing.models.request.MIN_REQUESTS_AT_SLA), repeated to keep this module free of the request.
MIN_REQUESTS_AT_BOUND = 20

BoundMs = Annotated[float, Field(ge=MIN_SLA_MS, le=MAX_SLA_MS)]
BoundStatus = Literal["measured", "lower_bound", "upper_bound", "not_measured"]


class KneeSettings(BaseModel):
    """Which latency bounds to measure capacity at besides the SLA, and how many extra probes that may cost."""

    model_config = StrictModel
    bounds_ms: list[BoundMs] | None = Field(
        None,
        max_length=MAX_KNEE_BOUNDS,
        description="Latency bounds (ms) at sla.percentile to measure capacity at; the SLA itself is added. At most "
        f"{MAX_KNEE_BOUNDS} distinct bounds in all, each {MIN_SLA_MS:g}-{MAX_SLA_MS} ms and short enough for "
        "limits.max_seconds_per_candidate (the SLA's rule). Default: half and twice sla.milliseconds.",
    )
    extra_probes: int | None = Field(
        None,
        ge=0,
        le=MAX_EXTRA_PROBES,
        description="Adaptive mode, one trial: at most this many open-loop probes per candidate, after the search, "
        "for bounds the search's own probes did not bracket (within limits.max_seconds_per_candidate; 0 = reuse the "
        f"search's probes only, at no extra cost). Default {DEFAULT_EXTRA_PROBES}; without `knee` in the request, or "
        "with load.trials of 2 or more (each trial's bounds come from its own search's probes, averaged): 0.",
    )

    def probes(self, trials: int) -> int:
        """The extra probes a load test with ``trials`` trials makes (none with two or more)."""
        if trials > 1:
            return 0
        return DEFAULT_EXTRA_PROBES if self.extra_probes is None else self.extra_probes

    @classmethod
    def reuse_only(cls) -> KneeSettings:
        """The request's default: the default bounds, from the probes the search made anyway."""
        return cls(extra_probes=0)


def knee_bounds(sla: LatencySla, knee: KneeSettings | None, max_seconds: float | None = None) -> list[float]:
    """The bounds to report, ascending, the SLA's among them. Default bounds that would not fit the time limit (the
    SLA's rule) or the 60 s cap are left out; explicit ones were refused by the request's validation."""
    given = knee.bounds_ms if knee is not None and knee.bounds_ms is not None else None
    if given is None:
        derived = [round(sla.milliseconds * f, 3) for f in DEFAULT_FACTORS]
        given = [b for b in derived if MIN_SLA_MS <= b <= MAX_SLA_MS and fits_time(b, max_seconds)]
    return sorted({float(b) for b in given} | {float(sla.milliseconds)})


def fits_time(bound_ms: float, max_seconds: float | None) -> bool:
    """A bound, like the SLA, must leave room for ``MIN_REQUESTS_AT_BOUND`` requests that slow one after another."""
    return max_seconds is None or bound_ms * MIN_REQUESTS_AT_BOUND <= max_seconds * 1000


class KneePoint(BaseModel):
    """One probe of the curve: what was offered, what completed, and the latency seen."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(description="The probe's index in the candidate's trace.json.")
    kind: Literal["closed", "open", "ramp"]
    offered_rps: float | None = Field(None, description="Offered arrival rate (open loop).")
    rps: float = Field(description="Completed (successful) requests per second.")
    latency_ms: LatencyPercentiles
    error_rate: float
    passed: bool = Field(description="Met the SLA and the error limit (the search's own verdict).")
    valid: bool = Field(True, description="False when the load generator, not the endpoint, was the limit.")
    bound_ms: float | None = Field(None, description="Set on a probe added for the curve: the bound it measured.")


class BoundCapacity(BaseModel):
    """Capacity within one latency bound, and how sure it is."""

    model_config = ConfigDict(extra="forbid")
    milliseconds: float
    sla: bool = Field(False, description="This bound is the SLA: its capacity is the run's answer for the candidate.")
    status: BoundStatus = Field(
        description="measured: a rate met the bound and a higher one failed it (failed_rps); lower_bound: at least "
        "capacity_rps, nothing above it was shown to fail (not bracketed, or the load generator was the limit); "
        "upper_bound: no probed rate met the bound, the capacity is below failed_rps; not_measured: no figure."
    )
    capacity_rps: float | None = Field(None, description="Highest completed rate whose probe met the bound.")
    failed_rps: float | None = Field(
        None,
        description="Lowest offered rate above capacity_rps that failed the bound (upper_bound: the lowest tried).",
    )
    latency_ms: float | None = Field(None, description="Latency at the percentile at capacity_rps.")
    precise: bool = Field(False, description="measured to within load.precision (the search's own rule).")
    generator_limited: bool = False
    note: str = ""


class KneeCurve(BaseModel):
    """One candidate's latency-vs-throughput curve and its capacity at each bound."""

    model_config = ConfigDict(extra="forbid")
    percentile: Percentile
    points: list[KneePoint] = Field(description="The probes that decide capacity (open loop in adaptive mode).")
    bounds: list[BoundCapacity]
    extra_probes: int = Field(0, description="Probes the load test added after its search, for the curve.")

    def at(self, milliseconds: float) -> BoundCapacity | None:
        return next((b for b in self.bounds if b.milliseconds == milliseconds), None)


class KneeChoice(BaseModel):
    """The cheapest fleet for the target if the SLA were this bound."""

    model_config = ConfigDict(extra="forbid")
    milliseconds: float
    sla: bool = False
    candidate_id: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    usd_per_hour: float | None = Field(None, description="What the recommender would rank by (discount applied).")
    capacity_rps: float | None = Field(None, description="What instance_count instances sustain within the bound.")
    lower_bound: bool = Field(
        False, description="Sized on a lower bound: fewer instances may do, so usd_per_hour is at most this."
    )
    note: str = Field("", description="Why there is no choice, or which candidates could not be sized.")


class KneeSummary(BaseModel):
    """The run's knee: the bounds measured and the cheapest choice at each."""

    model_config = ConfigDict(extra="forbid")
    percentile: Percentile
    bounds_ms: list[float]
    choices: list[KneeChoice]
