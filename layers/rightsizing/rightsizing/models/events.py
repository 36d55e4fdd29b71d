"""The events the service puts on EventBridge: a public contract, like the request and the result.

Each event is a whole EventBridge event as a rule's target receives it (envelope + ``detail``); ``schema/events/``
holds one JSON Schema per event and major version, generated from these models (``rightsize schema --write``).
Minor versions only add optional fields; a breaking change is a new major version with its own schema file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.models.history import RecommendationChange

EVENT_SOURCE: Final = "rightsizing"
EVENT_SCHEMA_VERSION = "1.0"
COMPLETED: Final = "Rightsizing Completed"
FAILED: Final = "Rightsizing Failed"
CHANGED: Final = "Recommendation Changed"

ExecutionStatus = Literal["FAILED", "TIMED_OUT", "ABORTED"]


class CompletedDetail(BaseModel):
    """Every run that finished and was summarised, with or without a recommendation."""

    model_config = ConfigDict(extra="forbid")
    schema_version: str = EVENT_SCHEMA_VERSION
    run_id: str
    model_key: str
    request_name: str
    request_hash: str
    mode: Literal["local", "aws"]
    region: str
    recommended: bool
    instance_type: str | None
    instance_count: int | None
    usd_per_hour: float | None
    message: str
    result_uri: str
    csv_uri: str
    report_uri: str
    previous_run_id: str | None = Field(description="The model's previous recorded run (None: the first).")
    recommendation_changed: bool = Field(description="A 'Recommendation Changed' event was sent with this one.")


class FailedDetail(BaseModel):
    """Every run that did not finish: refused by the plan, failed, timed out or cancelled."""

    model_config = ConfigDict(extra="forbid")
    schema_version: str = EVENT_SCHEMA_VERSION
    run_id: str
    status: ExecutionStatus
    error: str | None = Field(description="The execution's error name, e.g. InvalidRequest, RunNotSummarised.")
    cause: str | None = Field(description="Its cause, cut to 2,000 characters (the execution history has it all).")
    execution_arn: str
    model_key: str | None = Field(description="None when the request could not be read.")
    request_name: str | None
    started_at: datetime | None
    stopped_at: datetime | None


class ChangedDetail(BaseModel):
    """The recommended type or count changed, or the fleet's $/h moved by more than the threshold."""

    model_config = ConfigDict(extra="forbid")
    schema_version: str = EVENT_SCHEMA_VERSION
    run_id: str
    previous_run_id: str
    model_key: str
    change: RecommendationChange
    result_uri: str
    report_uri: str


class PutEventsEntry(BaseModel):
    """One PutEvents entry as the state machine's optimised events:putEvents integration takes it."""

    model_config = ConfigDict(extra="forbid")
    Source: Literal["rightsizing"] = EVENT_SOURCE
    DetailType: str
    Detail: dict[str, Any]
    EventBusName: str = "default"
    Resources: list[str] = Field(default_factory=list, description="Step Functions adds its own ARNs to these.")


class _Envelope(BaseModel):
    """EventBridge's envelope around ``detail``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    version: Literal["0"] = "0"
    id: str
    source: Literal["rightsizing"] = EVENT_SOURCE
    account: str = Field(pattern=r"^\d{12}$")
    time: datetime
    region: str
    resources: list[str] = Field(description="Step Functions adds the execution and state machine ARNs.")


class RightsizingCompletedEvent(_Envelope):
    """source ``rightsizing``, detail-type ``Rightsizing Completed``."""

    detail_type: Literal["Rightsizing Completed"] = Field(COMPLETED, alias="detail-type")
    detail: CompletedDetail


class RightsizingFailedEvent(_Envelope):
    """source ``rightsizing``, detail-type ``Rightsizing Failed``."""

    detail_type: Literal["Rightsizing Failed"] = Field(FAILED, alias="detail-type")
    detail: FailedDetail


class RecommendationChangedEvent(_Envelope):
    """source ``rightsizing``, detail-type ``Recommendation Changed``."""

    detail_type: Literal["Recommendation Changed"] = Field(CHANGED, alias="detail-type")
    detail: ChangedDetail


# Schema file stem (schema/events/<stem>.schema.json) -> the event's model. The stem carries the major version.
EVENT_MODELS: dict[str, type[_Envelope]] = {
    "rightsizing-completed.v1": RightsizingCompletedEvent,
    "rightsizing-failed.v1": RightsizingFailedEvent,
    "recommendation-changed.v1": RecommendationChangedEvent,
}
EVENT_MODEL_BY_DETAIL_TYPE: dict[str, type[_Envelope]] = {
    COMPLETED: RightsizingCompletedEvent,
    FAILED: RightsizingFailedEvent,
    CHANGED: RecommendationChangedEvent,
}
