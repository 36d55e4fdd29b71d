"""The dry run's estimate of a run's cost and duration (``rightsizing.estimate`` computes it): low, typical and worst
figures of each quantity. Part of ``rightsize start --dry-run --output json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

Scenario = Literal["low", "typical", "worst"]
SCENARIOS: tuple[Scenario, ...] = ("low", "typical", "worst")


class LoadTestTaskSize(BaseModel):
    """The load-test task's size: the stack's LoadTestCpu / LoadTestMemory parameters."""

    cpu_units: int = Field(2048, ge=256, description="Fargate CPU units (1024 = 1 vCPU).")
    memory_mib: int = Field(4096, ge=512)
    source: str = "template.yaml defaults (LoadTestCpu 2048, LoadTestMemory 4096)"

    @property
    def vcpu(self) -> float:
        return self.cpu_units / 1024

    @property
    def gb(self) -> float:
        return self.memory_mib / 1024


class Figures(BaseModel):
    low: float
    typical: float
    worst: float

    def get(self, scenario: Scenario) -> float:
        value: float = getattr(self, scenario)
        return value

    @classmethod
    def of(cls, compute: Callable[[Scenario], float]) -> Figures:
        return cls(**{scenario: compute(scenario) for scenario in SCENARIOS})


class CandidateEstimate(BaseModel):
    candidate_id: str
    instance_type: str
    existing_endpoint: bool
    accelerated: bool
    usd_per_hour: float | None = Field(description="None: no price known (see the estimate's notes).")
    price_source: str | None
    iteration_seconds: Figures = Field(description="Wall time of the candidate's Map iteration.")
    instance_hours: Figures = Field(description="Instance-hours billed (0 for an existing endpoint).")
    instance_usd: Figures | None
    fargate_vcpu_hours: Figures
    fargate_gb_hours: Figures
    transitions: Figures


class CostLine(BaseModel):
    item: str
    quantity: str
    usd: Figures


class RunEstimate(BaseModel):
    benchmarks: int
    max_concurrency: int
    poll_seconds: int
    load_test_task: LoadTestTaskSize
    candidates: list[CandidateEstimate]
    costs: list[CostLine]
    total_usd: Figures = Field(description="Sum of the cost lines; without unpriced candidates (see `complete`).")
    endpoint_usd: Figures = Field(description="The endpoints' instance cost: what budget_usd is checked against.")
    duration_seconds: Figures
    complete: bool = Field(description="False when some instance type has no price: the totals leave it out.")
    assumptions: list[str]
    notes: list[str]
