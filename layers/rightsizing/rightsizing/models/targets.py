"""What a run must meet: the traffic target and the latency SLA. Each is validated once, here, and travels whole
from the request to the load-test job, the search, the recommender, the report and every progress line."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, model_validator

from rightsizing.models.common import PERCENTILE_FRACTIONS, LatencyPercentiles, Percentile, StrictModel
from rightsizing.models.messages import FieldProblem

MAX_RPS = 1_000_000
MAX_SLA_MS = 60_000
# Below a tenth of a millisecond no HTTP request is answered, even over loopback: a bound that low measures only the
# clock, and no server could ever meet it.
MIN_SLA_MS = 0.1
# The short form used on the command line: <percentile>:<milliseconds>ms, e.g. p95:100ms.
SLA_TEXT = re.compile(r"^(p\d+):(\d+(?:\.\d+)?)ms$")


class TrafficTarget(BaseModel):
    """A fixed rate (``min_rps`` alone) or a range whose top sizes the fleet and whose bottom sizes autoscaling."""

    model_config = StrictModel
    min_rps: float = Field(gt=0, le=MAX_RPS, description="Requests per second the endpoint must sustain.")
    max_rps: float | None = Field(None, gt=0, le=MAX_RPS, description="Peak of a range; enables autoscaling advice.")

    @model_validator(mode="after")
    def _range(self) -> TrafficTarget:
        if self.max_rps is not None and self.max_rps < self.min_rps:
            raise FieldProblem(
                "max_rps",
                f"{self.max_rps:g} is below min_rps ({self.min_rps:g}): a range's top must be at least its bottom",
            )
        return self

    @property
    def sizing_rps(self) -> float:
        """The rate the fleet is sized for: the top of a range, else the fixed rate."""
        return self.max_rps if self.max_rps is not None else self.min_rps

    @property
    def range_floor(self) -> float | None:
        """The bottom of a range (sizes the autoscaling minimum); None for a fixed target."""
        return self.min_rps if self.is_range else None

    @property
    def is_range(self) -> bool:
        return self.max_rps is not None and self.max_rps > self.min_rps

    def __str__(self) -> str:
        if self.is_range:
            return f"{self.min_rps:g}–{self.sizing_rps:g} RPS"
        return f"{self.sizing_rps:g} RPS"


class LatencySla(BaseModel):
    """Client-side latency bound at one percentile."""

    model_config = StrictModel
    percentile: Percentile = "p95"
    milliseconds: float = Field(
        ge=MIN_SLA_MS, le=MAX_SLA_MS, description="Client-side latency bound at that percentile (0.1-60000 ms)."
    )

    @classmethod
    def parse(cls, text: str) -> LatencySla:
        """``p95:100ms`` -> LatencySla(percentile='p95', milliseconds=100), with the request's bounds."""
        match = SLA_TEXT.match(text.strip().lower())
        if not match:
            raise ValueError(
                f"'{text}': expected <percentile>:<milliseconds>ms, e.g. p95:100ms "
                f"(percentiles: {', '.join(PERCENTILE_FRACTIONS)})"
            )
        return cls.model_validate({"percentile": match.group(1), "milliseconds": float(match.group(2))})

    @property
    def fraction(self) -> float:
        """The percentile as a share of requests, e.g. 0.95."""
        return PERCENTILE_FRACTIONS[self.percentile]

    def latency_of(self, latency: LatencyPercentiles) -> float:
        """The measured latency at this SLA's percentile."""
        return latency.at(self.percentile)

    def met_by(self, latency: LatencyPercentiles) -> bool:
        return self.latency_of(latency) <= self.milliseconds

    def __str__(self) -> str:
        return f"{self.percentile} ≤ {self.milliseconds:g} ms"
