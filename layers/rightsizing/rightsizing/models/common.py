"""Small types shared by the request, plan and result models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The request's models refuse unknown keys (a typo must not be silently ignored), trim strings and refuse NaN and
# infinities (JSON parsers accept them, and every bound compares false against NaN).
StrictModel = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

Percentile = Literal["p50", "p90", "p95", "p99"]
# A measured candidate's outcome: its capacity, a floor of it (the test could not reach it), or no figure at all.
CandidateStatus = Literal["succeeded", "lower_bound", "failed", "skipped"]
# Not measured: failed (tried) or skipped (never deployed: it would have passed budget_usd).
UNMEASURED: frozenset[str] = frozenset({"failed", "skipped"})
PERCENTILE_FRACTIONS: dict[str, float] = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


class LatencyPercentiles(BaseModel):
    """Client-side latency percentiles in milliseconds."""

    model_config = ConfigDict(extra="forbid")
    p50: float = Field(ge=0)
    p90: float = Field(ge=0)
    p95: float = Field(ge=0)
    p99: float = Field(ge=0)

    def at(self, percentile: Percentile) -> float:
        return float(getattr(self, percentile))
