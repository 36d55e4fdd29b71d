"""A SageMaker Pipelines callback step starts a run, and the run's end answers the step.

Start: the SQS message names a stored profile (``profiles/<profile>.json``, a request without its model, as the
Model Registry trigger uses) and the package to rightsize. The token is kept beside the run's artefacts before the
run starts, so the end of the run can find it. A message that cannot start a run fails the step at once, with the
reason; the pipeline does not wait for a run that will never come.

End: the "Rightsizing Completed" and "Rightsizing Failed" events of every run reach ``answer_pipeline_step``; a run
with a kept token answers its step: success with the recommendation as outputs, or failure with the reason (a run
that recommends nothing fails the step too: later steps would have no instance type to deploy).
"""

from __future__ import annotations

from typing import Any

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.automation import TriggerOutcome, profile_key
from rightsizing.models.events import CompletedDetail, FailedDetail
from rightsizing.models.pipeline_step import (
    MAX_OUTPUT_VALUE,
    CallbackOutcome,
    PipelineCallback,
    PipelineCallbackMessage,
    callback_key,
    failure_reason,
    pipeline_run_id,
)
from rightsizing.models.request import parse_request
from rightsizing.ports import PipelineCallbacks, Triggers
from rightsizing.steps.registry_run import profile_request
from rightsizing.steps.run_trigger import not_started, start_request
from rightsizing.store import get_json, join_uri, put_json

COMPLETED = "Rightsizing Completed"
FAILED = "Rightsizing Failed"


def start_pipeline_run(message: PipelineCallbackMessage, triggers: Triggers) -> TriggerOutcome:
    callbacks = _callbacks(triggers)
    run_id = pipeline_run_id(message.token)
    outcome = _start(message, run_id, triggers)
    if not outcome.started:
        callbacks.fail(message.token, failure_reason(f"no rightsizing run started: {outcome.reason}"), run_id)
    return outcome


def _start(message: PipelineCallbackMessage, run_id: str, triggers: Triggers) -> TriggerOutcome:
    args = message.arguments
    uri = join_uri(triggers.artifacts_uri, profile_key(args.profile))
    if not triggers.store.exists(uri):
        return not_started(f"no profile at {uri}", run_id)
    try:
        document = profile_request(get_json(uri, triggers.store), args.model_package_arn, args.profile, triggers.region)
        request = parse_request(document)
    except ValueError as e:
        return not_started(f"the profile {uri} is not JSON: {e}", run_id)
    except InvalidRequest as e:
        return not_started(f"the profile {uri} does not make a valid request: {e.details}", run_id)
    kept = PipelineCallback(token=message.token, pipeline_execution_arn=message.pipeline_execution_arn)
    put_json(join_uri(triggers.artifacts_uri, callback_key(run_id)), kept.model_dump(mode="json"), triggers.store)
    return start_request(run_id, request, triggers)


def answer_pipeline_step(event: dict[str, Any], triggers: Triggers) -> CallbackOutcome:
    """Answer the pipeline step waiting for this run, if one is."""
    kind = event.get("detail-type")
    if kind not in (COMPLETED, FAILED):
        raise InvalidRequest("detail-type", f"expected '{COMPLETED}' or '{FAILED}', got {kind!r}")
    detail = CompletedDetail.model_validate(event["detail"]) if kind == COMPLETED else None
    failed = FailedDetail.model_validate(event["detail"]) if kind == FAILED else None
    run_id = detail.run_id if detail else failed.run_id  # type: ignore[union-attr]
    uri = join_uri(triggers.artifacts_uri, callback_key(run_id))
    if not triggers.store.exists(uri):
        return CallbackOutcome(answered=False, run_id=run_id, reason="no pipeline step waits for this run")
    kept = PipelineCallback.model_validate(get_json(uri, triggers.store))
    callbacks = _callbacks(triggers)
    if detail is not None and detail.recommended:
        callbacks.succeed(kept.token, success_outputs(detail), run_id)
        return CallbackOutcome(answered=True, run_id=run_id, succeeded=True, reason="recommendation sent")
    if detail is not None:
        reason = f"run {run_id} recommends nothing: {detail.message}"
    else:
        assert failed is not None
        reason = f"run {run_id} {failed.status}: {failed.error or 'no error'}: {failed.cause or ''}".rstrip(": ")
    callbacks.fail(kept.token, failure_reason(reason), run_id)
    return CallbackOutcome(answered=True, run_id=run_id, succeeded=False, reason=reason)


def success_outputs(detail: CompletedDetail) -> dict[str, str]:
    """The step's output parameters (all strings: Pipelines parameters are typed by the step's declared outputs)."""
    outputs = {
        "instance_type": detail.instance_type or "",
        "instance_count": str(detail.instance_count or 0),
        "usd_per_hour": f"{detail.usd_per_hour or 0.0:.4f}",
        "run_id": detail.run_id,
        "report_uri": detail.report_uri,
    }
    return {name: value[:MAX_OUTPUT_VALUE] for name, value in outputs.items()}


def _callbacks(triggers: Triggers) -> PipelineCallbacks:
    if triggers.callbacks is None:
        raise RuntimeError("this backend cannot answer SageMaker Pipelines steps (Triggers.callbacks is None)")
    return triggers.callbacks
