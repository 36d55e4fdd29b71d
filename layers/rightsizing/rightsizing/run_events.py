"""The PutEvents entries of a run's end: ``Rightsizing Completed``, ``Recommendation Changed``, ``Rightsizing Failed``.

Pure: the Recommend step returns the first two for the state machine to put (PublishResult); the RunFailed function
builds the third from Step Functions' own status-change event and puts it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from rightsizing.history import model_key
from rightsizing.models.events import (
    CHANGED,
    COMPLETED,
    FAILED,
    ChangedDetail,
    CompletedDetail,
    ExecutionStatus,
    FailedDetail,
    PutEventsEntry,
)
from rightsizing.models.history import RecommendationChange, RunRecord
from rightsizing.models.request import RightsizingRequest

MAX_CAUSE_CHARS = 2000  # an event entry is at most 256 KB; the execution history keeps the whole cause


def completed_entry(
    record: RunRecord, message: str, previous: RunRecord | None, changed: bool, bus: str
) -> PutEventsEntry:
    rec = record.recommendation
    detail = CompletedDetail(
        run_id=record.run_id,
        model_key=record.model_key,
        request_name=record.request_name,
        request_hash=record.request_hash,
        mode=record.mode,
        region=record.region,
        recommended=rec is not None,
        instance_type=rec.instance_type if rec else None,
        instance_count=rec.instance_count if rec else None,
        usd_per_hour=rec.usd_per_hour if rec else None,
        message=message,
        result_uri=record.artifacts["result"],
        csv_uri=record.artifacts["csv"],
        report_uri=record.artifacts["report"],
        previous_run_id=previous.run_id if previous else None,
        recommendation_changed=changed,
    )
    return PutEventsEntry(DetailType=COMPLETED, Detail=detail.model_dump(mode="json"), EventBusName=bus)


def changed_entry(record: RunRecord, previous: RunRecord, change: RecommendationChange, bus: str) -> PutEventsEntry:
    detail = ChangedDetail(
        run_id=record.run_id,
        previous_run_id=previous.run_id,
        model_key=record.model_key,
        change=change,
        result_uri=record.artifacts["result"],
        report_uri=record.artifacts["report"],
    )
    return PutEventsEntry(DetailType=CHANGED, Detail=detail.model_dump(mode="json"), EventBusName=bus)


class ExecutionStatusChange(BaseModel):
    """``detail`` of Step Functions' "Step Functions Execution Status Change" event (fields this service reads)."""

    model_config = ConfigDict(extra="ignore")
    executionArn: str
    name: str
    status: ExecutionStatus
    startDate: int | None = None  # epoch milliseconds
    stopDate: int | None = None
    input: str | None = None
    error: str | None = None
    cause: str | None = None


def _epoch_ms(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if value is not None else None


def failed_entry(change: ExecutionStatusChange, bus: str) -> PutEventsEntry:
    """``Rightsizing Failed`` for an execution that ended FAILED, TIMED_OUT or ABORTED.

    The model key comes from the execution's input; a request that cannot be read (which is often why the run
    failed) leaves it None."""
    key, name = None, None
    try:
        request = RightsizingRequest.model_validate(json.loads(change.input or "null"))
        key, name = model_key(request), request.name
    except (ValidationError, ValueError, TypeError):
        pass
    cause = change.cause
    if cause is not None and len(cause) > MAX_CAUSE_CHARS:
        cause = cause[: MAX_CAUSE_CHARS - 1] + "…"
    detail = FailedDetail(
        run_id=change.name,
        status=change.status,
        error=change.error,
        cause=cause,
        execution_arn=change.executionArn,
        model_key=key,
        request_name=name,
        started_at=_epoch_ms(change.startDate),
        stopped_at=_epoch_ms(change.stopDate),
    )
    return PutEventsEntry(
        DetailType=FAILED, Detail=detail.model_dump(mode="json"), EventBusName=bus, Resources=[change.executionArn]
    )


def entry_payload(entry: PutEventsEntry) -> dict[str, Any]:
    """The entry as the PutEvents API takes it (``Detail`` a JSON string)."""
    return {**entry.model_dump(mode="json"), "Detail": json.dumps(entry.Detail)}
