"""RunFailed function: announce a run that did not finish as ``Rightsizing Failed``.

Invoked by the stack's RunFailedRule with Step Functions' own "Execution Status Change" event (FAILED, TIMED_OUT,
ABORTED), so every way a run can end badly is announced: refused by the plan, failed, not summarised, timed out or
cancelled; the state machine cannot catch its own timeout or abort.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.exceptions import RightsizingError
from rightsizing.models.events import PutEventsEntry
from rightsizing.ports import Backend
from rightsizing.run_events import ExecutionStatusChange, failed_entry


class RunFailedInput(BaseModel):
    """The EventBridge event (envelope fields this step does not read are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: ExecutionStatusChange


class RunFailedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    published: list[PutEventsEntry]


def announce_failure(event: RunFailedInput, backend: Backend) -> RunFailedOutput:
    if event.source != "aws.states" or event.detail_type != "Step Functions Execution Status Change":
        raise RightsizingError(f"not a Step Functions status change: {event.source} / {event.detail_type}")
    if backend.events is None:
        raise RightsizingError("this backend has no event publisher")
    entry = failed_entry(event.detail, backend.event_bus_name)
    backend.events.publish([entry])
    return RunFailedOutput(published=[entry])
