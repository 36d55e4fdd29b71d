"""A price with its provenance: every output says which source and date priced it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PriceQuote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    instance_type: str
    region: str
    usd_per_hour: float = Field(ge=0)
    source: str = Field(description="Human-readable provenance, e.g. 'bundled AWS price snapshot (2026)'.")
