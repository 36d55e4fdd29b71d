"""PutEvents from a Lambda function (the state machine puts its own events through its optimised integration).

EventBridge reports a refused entry in ``FailedEntryCount``, not as an API error: it is raised here, so the
function fails and EventBridge's asynchronous invocation retries it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.adapters.errors import translate
from rightsizing.exceptions import RightsizingError
from rightsizing.models.events import PutEventsEntry
from rightsizing.run_events import entry_payload


class EventsNotPut(RightsizingError):
    """EventBridge refused an entry (FailedEntryCount > 0)."""


class EventBridgePublisher:
    def __init__(self, client: Any = None) -> None:
        self._client = client or aws_client("events")

    def publish(self, entries: list[PutEventsEntry]) -> None:
        try:
            answer = self._client.put_events(Entries=[entry_payload(e) for e in entries])
        except ClientError as e:
            translate(e, "putting the run's events on EventBridge")
        if answer.get("FailedEntryCount", 0):
            refused = [r for r in answer.get("Entries", []) if r.get("ErrorCode")]
            reasons = "; ".join(f"{r['ErrorCode']}: {r.get('ErrorMessage', '')}" for r in refused)
            raise EventsNotPut(f"EventBridge refused {answer['FailedEntryCount']} event(s): {reasons}")
