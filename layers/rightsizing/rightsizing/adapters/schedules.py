"""EventBridge Scheduler calls the CLI makes on the stack's schedule group (botocore's ``scheduler`` model).

A missing schedule is ``None`` or ``False`` here; every other ``ClientError`` is re-raised for the caller to explain.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.errors import error_code

NOT_FOUND = "ResourceNotFoundException"
PAGE = 100  # ListSchedules' largest page


def get_schedule(client: Any, group: str, name: str) -> dict[str, Any] | None:
    try:
        schedule: dict[str, Any] = client.get_schedule(GroupName=group, Name=name)
    except ClientError as e:
        if error_code(e) == NOT_FOUND:
            return None
        raise
    return schedule


def list_schedules(client: Any, group: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"GroupName": group, "MaxResults": PAGE}
    while True:
        response = client.list_schedules(**params)
        found.extend(response.get("Schedules", []))
        if not response.get("NextToken"):
            return found
        params["NextToken"] = response["NextToken"]


def create_schedule(
    client: Any,
    *,
    group: str,
    name: str,
    expression: str,
    timezone: str,
    target_arn: str,
    role_arn: str,
    target_input: str,
    description: str,
) -> str:
    response = client.create_schedule(
        GroupName=group,
        Name=name,
        ScheduleExpression=expression,
        ScheduleExpressionTimezone=timezone,
        # The period's time names the run, so the delivery need not be spread over a window.
        FlexibleTimeWindow={"Mode": "OFF"},
        State="ENABLED",
        Description=description,
        Target={
            "Arn": target_arn,
            "RoleArn": role_arn,
            "Input": target_input,
            "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600},
        },
    )
    return str(response["ScheduleArn"])


def delete_schedule(client: Any, group: str, name: str) -> bool:
    """False when there was no such schedule."""
    try:
        client.delete_schedule(GroupName=group, Name=name)
    except ClientError as e:
        if error_code(e) == NOT_FOUND:
            return False
        raise
    return True
