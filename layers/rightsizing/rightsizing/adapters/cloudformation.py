"""The deployed stack's Outputs (state machine ARNs, results bucket), read with CloudFormation DescribeStacks."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.errors import error_code, error_message
from rightsizing.exceptions import RightsizingError

# Stack statuses in which the stack's resources do not (or no longer) exist; every UPDATE_* and IMPORT_* status
# leaves the resources of the last good deployment, and its Outputs, in place.
UNUSABLE_STATUSES = frozenset(
    {
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_FAILED",
        "ROLLBACK_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
        "DELETE_COMPLETE",
        "REVIEW_IN_PROGRESS",
    }
)


class StackNotFound(RightsizingError):
    """No stack of that name in the region, or it is not usable (being deleted, creation failed)."""


def stack_outputs(client: Any, stack_name: str) -> dict[str, str]:
    """OutputKey -> OutputValue of ``stack_name``."""
    try:
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as e:
        # DescribeStacks answers a missing stack with ValidationError "Stack with id X does not exist".
        if error_code(e) == "ValidationError" and "does not exist" in error_message(e):
            raise StackNotFound(f"stack {stack_name} not found") from e
        raise
    stack = stacks[0]
    status = str(stack.get("StackStatus", ""))
    if status in UNUSABLE_STATUSES:
        raise StackNotFound(f"stack {stack_name} is {status}: it has no usable resources (deploy it: sam deploy)")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
