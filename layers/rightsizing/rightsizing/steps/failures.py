"""A caught state-machine failure as one short reason a person can act on.

Step Functions puts whole service responses in a failure's Cause: the stopped ECS task's description for a load
test that failed, DescribeEndpoint's output for an endpoint that did. Forty of those would pass the 256 KB a state
may carry, so each iteration hands its failure to the CollectMetrics function, which keeps only this reason (the
execution history keeps the full Cause).
"""

from __future__ import annotations

import json
from typing import Any

from rightsizing.models.result import StepFailure

MAX_REASON_CHARS = 1000

# What a person can do about RunTask's own errors (the task never started).
RUN_TASK_HINTS = {
    "ECS.AccessDeniedException": "the state machine's role may not start the load-test task: it needs ecs:RunTask, "
    "ecs:TagResource (tags propagated at launch) and iam:PassRole for the load-test roles",
    "ECS.ClientException": "check the stack's LoadTestImageUri, LoadTestSubnetIds and LoadTestSecurityGroupId",
    "ECS.InvalidParameterException": "check the stack's LoadTestSubnetIds, LoadTestSecurityGroupId and "
    "LoadTestAssignPublicIp (ECS may also say this when throttled reading the VPC)",
    "ECS.ClusterNotFoundException": "the load-test cluster is gone: redeploy the stack",
    "ECS.PlatformTaskDefinitionIncompatibilityException": "the task definition needs a newer Fargate platform",
    "ECS.PlatformUnknownException": "the Fargate platform version does not exist in this region",
    "ECS.UnsupportedFeatureException": "Fargate does not support this task in this region",
    "ECS.BlockedException": "the account is blocked from ECS: contact AWS Support",
    "ECS.ServerException": "ECS kept failing after 3 retries: start the run again later",
    "ECS.AmazonECSException": "ECS kept failing or throttling after 3 retries: start the run again later",
    "AmazonECS.Unknown": "ECS placed no task after 3 retries (e.g. no Fargate capacity in the subnets' zones, or "
    "an image it could not pull); the reason ECS gave is above",
}


# How a container ends when a signal kills it (128 + the signal's number), as ECS and Docker report it.
SIGNAL_EXITS = {137: "killed by SIGKILL, e.g. out of memory", 143: "stopped by SIGTERM"}


def describe_failure(failure: StepFailure, generator_message: str | None = None) -> str:
    """``Error: what happened`` in at most MAX_REASON_CHARS characters. ``generator_message``: the load generator's
    own account of a failed test (its ``error.json``), put first."""
    extra = failure.model_extra or {}
    if failure.Error == "LoadTestFailed":
        text = _stopped_task(failure.Cause, extra.get("LogGroup"))
        if generator_message:
            text = f"{generator_message}; {text}"
    elif failure.Error == "LoadTestNotStarted":
        text = _refused_run_task(str(extra.get("RunTaskError", "")), failure.Cause)
    else:
        text = _message(failure.Cause)
        details = extra.get("Details")
        if isinstance(details, dict) and details.get("FailureReason"):
            text = f"{text} ({details['FailureReason']})"  # e.g. DescribeEndpoint's reason for status Failed
        if "isolation" in text.lower():
            text += "; AWS Marketplace model packages need model.network_isolation: true"
    reason = f"{failure.Error}: {text}" if text else failure.Error
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def _message(cause: str | None) -> str:
    """Lambda causes are JSON with errorMessage, service causes plain text."""
    cause = cause or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed.get("Message") or parsed.get("message") or cause)
    return cause


def _field(document: dict[str, Any], name: str) -> Any:
    """Step Functions returns ECS's output in PascalCase; the API's own casing is camelCase."""
    return document.get(name, document.get(name[0].lower() + name[1:]))


def _stopped_task(cause: str | None, log_group: object) -> str:
    """The stopped task's description, reduced to why it stopped and how each container ended."""
    try:
        task = json.loads(cause or "")
    except ValueError:
        task = None
    if not isinstance(task, dict):
        return f"the load-test task failed: {_message(cause)}"
    parts = [f"the load-test task stopped ({_field(task, 'StopCode') or '?'}: {_field(task, 'StoppedReason') or '?'})"]
    for container in _field(task, "Containers") or []:
        name, code, why = _field(container, "Name"), _field(container, "ExitCode"), _field(container, "Reason")
        why = why or SIGNAL_EXITS.get(code)
        ending = f"exited {code}" if code is not None else "never ran"
        parts.append(f"container {name} {ending}" + (f" ({why})" if why else ""))
    if log_group:
        parts.append(f"its log is in CloudWatch Logs group {log_group}")
    return "; ".join(parts)


def _refused_run_task(error: str, cause: str | None) -> str:
    hint = RUN_TASK_HINTS.get(error, "")
    text = f"RunTask did not start the load-test task ({error}: {_message(cause)})"
    return f"{text}; {hint}" if hint else text
