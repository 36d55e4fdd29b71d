"""What both automatic starts share: turn a validated request into the state machine's input and start it once."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from rightsizing.models.automation import TriggerOutcome
from rightsizing.models.plan import check_run_id
from rightsizing.models.request import RightsizingRequest
from rightsizing.ports import Triggers


@dataclass(frozen=True)
class Trigger:
    event_model: type[BaseModel]
    run: Callable[[Any, Triggers], TriggerOutcome]

    def handle(self, event: dict[str, Any], triggers: Triggers) -> dict[str, Any]:
        return self.run(self.event_model.model_validate(event), triggers).model_dump(mode="json")


def canonical_input(request: RightsizingRequest) -> str:
    """The request as StartExecution's input: canonical JSON (sorted keys, defaults filled in), as the CLI sends it."""
    return json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def not_started(reason: str, run_id: str | None = None) -> TriggerOutcome:
    return TriggerOutcome(started=False, run_id=run_id, reason=reason)


def start_request(run_id: str, request: RightsizingRequest, triggers: Triggers) -> TriggerOutcome:
    """Start ``request`` as ``run_id`` unless it cannot run on this stack (said in ``reason``, nothing started)."""
    check_run_id(run_id)
    if request.is_local:
        return not_started("the request benchmarks local profiles: only ml.* instance types run on AWS", run_id)
    archive = [request.payloads.archive] if request.payloads.archive else []
    local_files = [name for name in [*request.payloads.files, *archive] if not name.startswith("s3://")]
    if local_files:
        return not_started(f"payload files {local_files} are not s3:// URIs: the plan step cannot read them", run_id)
    if request.region != triggers.region:
        return not_started(
            f"the request's region is {request.region} but the stack's is {triggers.region}: the state machine "
            "creates endpoints in its own region",
            run_id,
        )
    started = triggers.starter.start(run_id, canonical_input(request))
    if started.already_started:
        reason = "already started: Step Functions keeps execution names for 90 days, so this run is not repeated"
    else:
        reason = "started"
    return TriggerOutcome(
        started=True,
        run_id=run_id,
        execution_arn=started.execution_arn,
        already_started=started.already_started,
        reason=reason,
    )
