"""A model's run history: one record per finished run, and what moved between two runs.

Records are kept per *model key* (``rightsizing.history.model_key``): DynamoDB on AWS, a JSON-lines file locally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.models.common import CandidateStatus, StrictModel
from rightsizing.models.messages import MODEL_KEY
from rightsizing.models.targets import LatencySla, TrafficTarget

# Minor versions only add optional fields.
HISTORY_SCHEMA_VERSION = "1.0"
DEFAULT_CHANGE_THRESHOLD_PERCENT = 10.0
MODEL_KEY_PATTERN = MODEL_KEY.pattern  # its rule in words lives with the pattern (models.messages)


class HistorySettings(BaseModel):
    """The request's ``history`` field: which history the run joins, and what counts as a changed answer."""

    model_config = StrictModel
    model_key: str | None = Field(
        None,
        pattern=MODEL_KEY_PATTERN,
        description="The history this run joins. Default: the model package group, the container image and model "
        "data, or local/<builtin>. A local run's key always starts with local/.",
    )
    change_threshold_percent: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="A 'Recommendation Changed' event is sent when the recommended fleet's $/h moves by more than "
        "this (or its type or count changes). Default: the stack's setting (10).",
    )


class CandidateCapacity(BaseModel):
    """One candidate of a recorded run: what it sustained and what the target would cost on it."""

    model_config = ConfigDict(extra="forbid")
    candidate_id: str
    instance_type: str
    environment: dict[str, str] = Field(default_factory=dict)
    status: CandidateStatus
    sustainable_rps: float | None = Field(None, description="Per instance, within the SLA (a floor if lower_bound).")
    instances_for_target: int | None = None
    usd_per_hour_per_instance: float | None = Field(None, description="On-demand price of one instance.")
    usd_per_hour_for_target: float | None = Field(None, description="The fleet for the target, as ranked.")
    price_source: str | None = None
    failure_reason: str | None = None


class RecordedRecommendation(BaseModel):
    """The answer of a recorded run: N x type and what it costs."""

    model_config = ConfigDict(extra="forbid")
    candidate_id: str
    instance_type: str
    environment: dict[str, str] = Field(default_factory=dict)
    instance_count: int
    usd_per_hour: float = Field(description="The fleet's $/h as ranked (Savings Plan discount applied, if any).")
    usd_per_hour_per_instance: float
    price_source: str


class RunRecord(BaseModel):
    """One finished run in its model's history."""

    model_config = ConfigDict(extra="forbid")
    schema_version: str = HISTORY_SCHEMA_VERSION
    model_key: str
    run_id: str
    finished_at: datetime = Field(description="When the Recommend step recorded the run (UTC).")
    mode: Literal["local", "aws"]
    region: str
    request_name: str
    request_hash: str = Field(description="sha256 of the request as the plan step stored it (canonical JSON).")
    model: str = Field(description="The exact model benchmarked: versioned package ARN, image and data, builtin.")
    traffic: TrafficTarget
    sla: LatencySla
    recommendation: RecordedRecommendation | None
    no_recommendation_reason: str | None = None
    candidates: list[CandidateCapacity]
    estimated_run_cost_usd: float | None = Field(
        None, description="What the benchmark itself cost, typical estimate (endpoints, Fargate, Step Functions)."
    )
    run_cost_usd: float | None = Field(None, description="Measured cost of the benchmark (result.json `cost`).")
    artifacts: dict[str, str] = Field(default_factory=dict, description="result, csv, report, snippet URIs.")


ChangeReason = Literal["recommended", "instance_type", "instance_count", "hourly_cost"]


class RecommendationState(BaseModel):
    """A run's answer as a change event and a comparison show it (all None: no recommendation)."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    finished_at: datetime
    instance_type: str | None
    instance_count: int | None
    usd_per_hour: float | None
    request_hash: str


class RecommendationChange(BaseModel):
    """Why a run's answer differs from the previous run's of the same model."""

    model_config = ConfigDict(extra="forbid")
    reasons: list[ChangeReason] = Field(min_length=1)
    before: RecommendationState
    after: RecommendationState
    cost_change_percent: float | None = Field(description="(after - before) / before x 100, when both have a cost.")
    threshold_percent: float
    request_changed: bool = Field(description="The two runs' requests differ (target, candidates, settings...).")


class CandidateDelta(BaseModel):
    """One instance type (and environment) in two runs; None where a run did not benchmark or size it."""

    model_config = ConfigDict(extra="forbid")
    instance_type: str
    environment: dict[str, str] = Field(default_factory=dict)
    status: tuple[str | None, str | None]
    sustainable_rps: tuple[float | None, float | None]
    sustainable_rps_change_percent: float | None
    instances_for_target: tuple[int | None, int | None]
    usd_per_hour_per_instance: tuple[float | None, float | None]
    price_change_percent: float | None
    usd_per_hour_for_target: tuple[float | None, float | None]


class RunComparison(BaseModel):
    """What moved from run A to run B: the answer, each candidate's capacity and price."""

    model_config = ConfigDict(extra="forbid")
    run_a: RecommendationState
    run_b: RecommendationState
    same_model: bool
    model_keys: tuple[str, str]
    changed: list[ChangeReason] = Field(description="How the answer moved (any cost move counts here).")
    cost_change_percent: float | None
    request_changed: bool
    candidates: list[CandidateDelta]
