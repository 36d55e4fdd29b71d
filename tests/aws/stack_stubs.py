"""The deployed stack as the AWS commands see it: DescribeStacks answered by a botocore Stubber (moto models no
stack outputs we did not deploy), every other client real (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rightsizing_cli import aws_context

STACK = "sagemaker-rightsizing"


def describe_stacks_response(
    outputs: dict[str, str],
    *,
    status: str = "UPDATE_COMPLETE",
    parameters: dict[str, str] | None = None,
    stack_id: str | None = None,
) -> dict[str, Any]:
    """A DescribeStacks answer for the stack with these outputs (and parameters)."""
    stack: dict[str, Any] = {
        "StackName": STACK,
        "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": status,
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
    }
    if stack_id is not None:
        stack["StackId"] = stack_id
    if parameters is not None:
        stack["Parameters"] = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    return {"Stacks": [stack]}


@contextmanager
def stubbed_cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The CLI's CloudFormation client, stubbed; every queued answer must be used."""
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(cfn)
    stubber.activate()
    real_factory = aws_context.client_factory

    def factory(session: Any, service: str, region: str) -> Any:
        return cfn if service == "cloudformation" else real_factory(session, service, region)

    monkeypatch.setattr(aws_context, "client_factory", factory)
    yield stubber
    stubber.assert_no_pending_responses()
