"""A serverless endpoint as a candidate: memory size and max concurrency instead of an instance type.

SageMaker's CreateEndpointConfig takes ``ProductionVariants[].ServerlessConfig`` {``MemorySizeInMB``: 1024, 2048,
3072, 4096, 5120 or 6144; ``MaxConcurrency``: 1-200} and then no ``InstanceType``/``InitialInstanceCount``
(API reference, ProductionVariantServerlessConfig). Beyond ``MaxConcurrency`` requests in flight, InvokeEndpoint
answers 429 ThrottlingException.

A serverless candidate is labelled everywhere an instance type would be by ``serverless-<GB>gb-c<concurrency>``
(``local.serverless-…`` in local mode), so results, reports and history read the same for both kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rightsizing.models.common import StrictModel
from rightsizing.models.price import PriceQuote

MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)  # botocore: ServerlessMemorySizeInMB, 1 GB steps
MAX_CONCURRENCY = 200  # botocore: ServerlessMaxConcurrency 1-200 per endpoint
SERVERLESS_LABEL = re.compile(r"^(?P<local>local\.)?serverless-(?P<gb>[1-6])gb-c(?P<concurrency>[1-9][0-9]{0,2})$")


class ServerlessSpec(BaseModel):
    """The request's ``serverless`` object of a candidate."""

    model_config = StrictModel
    memory_mb: int = Field(
        description="ServerlessConfig MemorySizeInMB: 1024, 2048, 3072, 4096, 5120 or 6144 (more memory, more vCPU)."
    )
    max_concurrency: int = Field(
        ge=1,
        le=MAX_CONCURRENCY,
        description="ServerlessConfig MaxConcurrency: requests in flight at once (1-200); more are throttled (429).",
    )

    @field_validator("memory_mb")
    @classmethod
    def _memory(cls, value: int) -> int:
        if value not in MEMORY_SIZES_MB:
            nearest = min(MEMORY_SIZES_MB, key=lambda size: abs(size - value))
            raise ValueError(
                f"{value} MB is not a serverless memory size: SageMaker takes 1 GB steps from 1 to 6 GB "
                f"({', '.join(str(s) for s in MEMORY_SIZES_MB)}); did you mean {nearest}?"
            )
        return value

    def label(self, local: bool) -> str:
        return f"{'local.' if local else ''}serverless-{self.memory_mb // 1024}gb-c{self.max_concurrency}"

    def serverless_config(self) -> dict[str, int]:
        """CreateEndpointConfig's ProductionVariant ServerlessConfig, API casing."""
        return {"MemorySizeInMB": self.memory_mb, "MaxConcurrency": self.max_concurrency}


@dataclass(frozen=True)
class ServerlessLabel:
    """What a serverless label says: enough to price it without the request."""

    memory_mb: int
    max_concurrency: int
    local: bool

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024


def parse_serverless_label(label: str) -> ServerlessLabel | None:
    """The memory and concurrency of ``serverless-4gb-c20`` (or ``local.…``); None for an instance type."""
    match = SERVERLESS_LABEL.match(label)
    if match is None:
        return None
    return ServerlessLabel(int(match["gb"]) * 1024, int(match["concurrency"]), bool(match["local"]))


def is_serverless(label: str) -> bool:
    return parse_serverless_label(label) is not None


def serverless_quote(
    label: str, region: str, usd_per_gb_second: float, usd_per_gb_processed: float, source: str
) -> PriceQuote:
    """The quote of a serverless candidate: its per-use prices, and as ``usd_per_hour`` the ceiling (all of
    MaxConcurrency busy all hour), the most it can bill in an hour: what a budget must allow for."""
    parsed = parse_serverless_label(label)
    if parsed is None:
        raise ValueError(f"{label!r} is not a serverless label")
    ceiling = parsed.max_concurrency * parsed.memory_gb * usd_per_gb_second * 3600
    return PriceQuote(
        instance_type=label,
        region=region,
        usd_per_hour=round(ceiling, 6),
        source=source,
        usd_per_gb_second=usd_per_gb_second,
        usd_per_gb_processed=usd_per_gb_processed,
    )


@dataclass(frozen=True)
class ServerlessCostAtRate:
    """What a serverless endpoint bills per hour at a steady rate (docs/recommendation.md, "Serverless")."""

    compute_usd_per_hour: float
    data_usd_per_hour: float
    concurrency_needed: float  # Little's law: requests in flight = rate x time each spends in the endpoint

    @property
    def usd_per_hour(self) -> float:
        return self.compute_usd_per_hour + self.data_usd_per_hour


def cost_at_rate(
    rate_rps: float,
    seconds_per_request: float,
    memory_gb: float,
    usd_per_gb_second: float,
    bytes_per_request: float = 0.0,
    usd_per_gb_processed: float = 0.0,
) -> ServerlessCostAtRate:
    """rate x duration x memory x $/GB-s x 3600 for compute, plus data processed (in and out) per GB."""
    compute = rate_rps * seconds_per_request * memory_gb * usd_per_gb_second * 3600
    data = rate_rps * 3600 * bytes_per_request / 1024**3 * usd_per_gb_processed
    return ServerlessCostAtRate(compute, data, rate_rps * seconds_per_request)


class ColdStart(BaseModel):
    """The first request after a serverless endpoint was deployed, measured before the search and apart from it:
    its latency includes provisioning (CloudWatch's ModelSetupTime on AWS), so it is reported here and never counts
    toward the SLA verdict."""

    model_config = ConfigDict(extra="forbid")
    first_ms: float = Field(ge=0, description="Latency of the first request after deployment (the cold start).")
    warm_ms: float | None = Field(None, ge=0, description="Median latency of the requests right after it (warm).")
    penalty_ms: float | None = Field(None, description="first_ms - warm_ms: what the cold start added.")
    warm_samples: int = Field(0, ge=0)
    first_status: int | None = Field(None, description="HTTP status of the first request (None: no answer).")
    note: str = ""


class ServerlessSizing(BaseModel):
    """How a serverless candidate was priced at the target rate (recommendation and alternatives)."""

    model_config = ConfigDict(extra="forbid")
    memory_mb: int
    max_concurrency: int
    target_rps: float
    seconds_per_request: float = Field(description="Billed duration assumed: the median latency at the SLA rate.")
    concurrency_needed: float = Field(description="target_rps x seconds_per_request (Little's law).")
    usd_per_gb_second: float
    compute_usd_per_hour: float
    data_usd_per_hour: float = Field(description="Request bodies in at usd_per_gb_processed; responses not counted.")
    bytes_per_request: float
    cold_start_ms: float | None = Field(None, description="The measured first request after deployment.")
