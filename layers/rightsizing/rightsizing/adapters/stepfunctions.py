"""Step Functions calls the CLI makes on a deployed stack: start, describe, stop and list executions, read history.

Shapes follow botocore's ``stepfunctions`` service model. ``ExecutionDoesNotExist`` and ``ExecutionAlreadyExists``
become domain errors here; every other ``ClientError`` (access denied, throttling) is re-raised unchanged for the
caller to explain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from botocore.exceptions import ClientError

from rightsizing.adapters.errors import error_code, error_message
from rightsizing.exceptions import RightsizingError

HISTORY_PAGE = 1000  # GetExecutionHistory's largest page (maxResults 0..1000)
LIST_PAGE = 100


class ExecutionNotFound(RightsizingError):
    """No execution has this ARN (wrong run id, stack or region)."""


class ExecutionExists(RightsizingError):
    """StartExecution refused the name: an execution of that name finished already, or runs with another input."""

    def __init__(self, execution_arn: str, message: str) -> None:
        self.execution_arn = execution_arn
        super().__init__(message)


@dataclass(frozen=True)
class Started:
    execution_arn: str
    start_date: datetime


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:<partition>:states:<region>:<account>:execution:<state machine name>:<execution name>``."""
    head, sep, machine = state_machine_arn.partition(":stateMachine:")
    if not sep or not machine:
        raise RightsizingError(f"not a state machine ARN: {state_machine_arn}")
    return f"{head}:execution:{machine.split(':')[0]}:{name}"


def start_execution(client: Any, state_machine_arn: str, name: str, input_json: str) -> Started:
    """Start ``name``; the same name and input while it runs returns that execution (Standard workflows)."""
    try:
        response = client.start_execution(stateMachineArn=state_machine_arn, name=name, input=input_json)
    except ClientError as e:
        if error_code(e) == "ExecutionAlreadyExists":
            raise ExecutionExists(execution_arn(state_machine_arn, name), error_message(e)) from e
        raise
    return Started(response["executionArn"], response["startDate"])


def describe_execution(client: Any, arn: str) -> dict[str, Any]:
    try:
        response: dict[str, Any] = client.describe_execution(executionArn=arn)
    except ClientError as e:
        _raise_not_found(e, arn)
    return response


def stop_execution(client: Any, arn: str, error: str, cause: str) -> datetime:
    try:
        stopped: datetime = client.stop_execution(executionArn=arn, error=error, cause=cause)["stopDate"]
    except ClientError as e:
        _raise_not_found(e, arn)
    return stopped


def list_executions(
    client: Any, state_machine_arn: str, status: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Newest first (as the API returns them), at most ``limit``."""
    found: list[dict[str, Any]] = []
    for page in iter_execution_pages(client, state_machine_arn, status, min(limit, LIST_PAGE)):
        found.extend(page)
        if len(found) >= limit:
            break
    return found[:limit]


def iter_execution_pages(
    client: Any, state_machine_arn: str, status: str | None = None, page_size: int = LIST_PAGE
) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": page_size}
    if status:
        params["statusFilter"] = status
    while True:
        response = client.list_executions(**params)
        yield list(response.get("executions", []))
        token = response.get("nextToken")
        if not token:
            return
        params["nextToken"] = token


def history(client: Any, arn: str) -> list[dict[str, Any]]:
    """Every event so far, oldest first."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"executionArn": arn, "maxResults": HISTORY_PAGE}
    while True:
        try:
            response = client.get_execution_history(**params)
        except ClientError as e:
            _raise_not_found(e, arn)
        events.extend(response["events"])
        token = response.get("nextToken")
        if not token:
            return events
        params["nextToken"] = token


def events_after(client: Any, arn: str, last_id: int, page_size: int = 100) -> list[dict[str, Any]]:
    """Events with ids above ``last_id``, oldest first: pages read newest first (``reverseOrder``) until a known id,
    so a poll of a long execution costs one small call, not the whole history again."""
    newer: list[dict[str, Any]] = []
    params: dict[str, Any] = {"executionArn": arn, "maxResults": page_size, "reverseOrder": True}
    while True:
        try:
            response = client.get_execution_history(**params)
        except ClientError as e:
            _raise_not_found(e, arn)
        for event in response["events"]:
            if event["id"] <= last_id:
                return newer[::-1]
            newer.append(event)
        token = response.get("nextToken")
        if not token:
            return newer[::-1]
        params["nextToken"] = token


def _raise_not_found(error: ClientError, arn: str) -> NoReturn:
    if error_code(error) in {"ExecutionDoesNotExist", "InvalidArn"}:
        raise ExecutionNotFound(f"no execution {arn} ({error_message(error)})") from error
    raise error
