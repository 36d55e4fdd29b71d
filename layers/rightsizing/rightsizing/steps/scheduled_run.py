"""A schedule's period starts a run of the schedule's stored request, named after the period so it starts once."""

from __future__ import annotations

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.automation import ScheduledRunEvent, TriggerOutcome, scheduled_run_id
from rightsizing.models.request import parse_request
from rightsizing.ports import Triggers
from rightsizing.steps.run_trigger import not_started, start_request
from rightsizing.store import get_json, join_uri


def start_scheduled_run(event: ScheduledRunEvent, triggers: Triggers) -> TriggerOutcome:
    run_id = scheduled_run_id(event.schedule_name, event.scheduled_time)
    schedules = join_uri(triggers.artifacts_uri, "schedules") + "/"
    if not event.request_uri.startswith(schedules):
        return not_started(f"the request {event.request_uri} is not under {schedules}", run_id)
    if not triggers.store.exists(event.request_uri):
        return not_started(
            f"no request stored at {event.request_uri}: store one with rightsize schedule create "
            f"{event.schedule_name} FILE",
            run_id,
        )
    try:
        request = parse_request(get_json(event.request_uri, triggers.store))
    except ValueError as e:
        return not_started(f"the stored request {event.request_uri} is not JSON: {e}", run_id)
    except InvalidRequest as e:
        return not_started(f"the stored request {event.request_uri} is invalid: {e.details}", run_id)
    return start_request(run_id, request, triggers)
