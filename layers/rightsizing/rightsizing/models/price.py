"""A price with its provenance: every output says which source and date priced it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PriceQuote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    instance_type: str
    region: str
    usd_per_hour: float = Field(ge=0)
    source: str = Field(description="Human-readable provenance, e.g. 'bundled AWS price snapshot (2026)'.")
    # Serverless candidates are billed per use: usd_per_hour is then the ceiling (every one of MaxConcurrency slots
    # busy all hour), what the budget check commits; the recommender prices the target rate from these two.
    usd_per_gb_second: float | None = Field(None, ge=0, description="Serverless compute, per GB of memory-second.")
    usd_per_gb_processed: float | None = Field(None, ge=0, description="Serverless data processed, per GB in or out.")
