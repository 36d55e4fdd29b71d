"""What a run actually cost, from the state machine's own timestamps (``rightsizing.measured_cost`` computes it).

Three stages: the Map iteration records when it entered CreateEndpoint and DeleteEndpoint and the load-test task's
description (``UsageRecord``, the CollectMetrics/RecordFailure input); the collect step reduces that to seconds and
counts (``CandidateUsage``, kept on each CandidateResult); the Recommend step prices them (``RunCost``, in
result.json beside the dry run's estimate).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.models.estimate import Figures


class EnteredAt(BaseModel):
    """A state's ``$$.State.EnteredTime`` (ISO 8601), recorded by its ResultSelector."""

    model_config = ConfigDict(extra="ignore")
    at: str


class StateTimes(BaseModel):
    """``$.times`` of a Map iteration: what the states recorded on the way (each absent when not reached)."""

    model_config = ConfigDict(extra="ignore")
    endpoint_created: EnteredAt | None = Field(None, description="CreateEndpoint's entry, once it succeeded.")
    endpoint_deleted: EnteredAt | None = Field(None, description="DeleteEndpoint's entry, the attempt accepted.")
    load_test: dict[str, Any] | None = Field(
        None, description="RunLoadTest's output: the stopped task's description (ecs:runTask.sync, PascalCase)."
    )


class UsageRecord(BaseModel):
    """What the state machine hands CollectMetrics and RecordFailure to measure a candidate's cost."""

    model_config = ConfigDict(extra="ignore")
    times: StateTimes = Field(default_factory=StateTimes)
    polls: int = Field(0, ge=0, description="DescribeEndpoint polls ($.polls.count).")
    delete_attempts: int = Field(0, ge=0, description="Refused DeleteEndpoint attempts ($.deletes.count).")
    collected_at: str | None = Field(None, description="The collecting state's entry (ISO 8601).")


class CandidateUsage(BaseModel):
    """What one candidate used, measured: seconds and counts, no prices."""

    model_config = ConfigDict(extra="forbid")
    endpoint_seconds: float = Field(
        0.0, ge=0, description="CreateEndpoint to DeleteEndpoint; 0 when the run created no endpoint."
    )
    endpoint_instances: int = Field(0, ge=0, description="Instances the endpoint ran (InitialInstanceCount).")
    endpoint_deleted: bool = Field(
        True, description="False: the endpoint outlived the iteration (handed to the sweeper); its seconds are a floor."
    )
    task_seconds: float = Field(0.0, ge=0, description="The load-test task's Fargate seconds (image pull to stop).")
    task_vcpu: float = Field(0.0, ge=0)
    task_gb: float = Field(0.0, ge=0)
    transitions: int = Field(0, ge=0, description="State transitions of the iteration, counted from its path.")
    lambda_invocations: int = Field(0, ge=0)
    notes: list[str] = Field(default_factory=list)


CostKind = Literal["endpoint", "load_test", "step_functions", "lambda"]


class CostItem(BaseModel):
    """One kind of spend over the whole run."""

    model_config = ConfigDict(extra="forbid")
    kind: CostKind
    item: str
    quantity: str
    usd: float


class CandidateCost(BaseModel):
    """One candidate's measured spend: its endpoint and its load-test task (the orchestration is the run's)."""

    model_config = ConfigDict(extra="forbid")
    candidate_id: str
    instance_type: str
    status: str
    endpoint_seconds: float
    instance_count: int
    usd_per_hour: float | None = Field(description="None: no price known (see price_errors) or no endpoint created.")
    endpoint_usd: float | None = Field(description="None: the endpoint ran but has no price.")
    task_seconds: float = Field(description="Fargate seconds billed (1-minute minimum applied).")
    load_test_usd: float
    usd: float | None = Field(description="endpoint_usd + load_test_usd; None when the endpoint has no price.")
    note: str | None = None


class RunCost(BaseModel):
    """result.json ``cost``: the run's measured spend beside the dry run's estimate."""

    model_config = ConfigDict(extra="forbid")
    currency: Literal["USD"] = "USD"
    notional: bool = Field(description="True in local mode: notional prices of local stand-ins, never an AWS bill.")
    measured_usd: float = Field(description="Sum of by_kind (unpriced endpoints left out: see complete).")
    estimated_usd: Figures | None = Field(None, description="The dry run's low / typical / worst total for this run.")
    by_kind: list[CostItem]
    candidates: list[CandidateCost]
    complete: bool = Field(
        description="False when a figure is missing (an unpriced endpoint, a candidate whose usage was not recorded) "
        "or is a floor (an endpoint not deleted)."
    )
    instance_price_sources: list[str] = Field(description="Where the instance prices came from, with their date.")
    service_price_source: str = Field(description="Where the Fargate, Step Functions and Lambda rates came from.")
    notes: list[str] = Field(default_factory=list)
