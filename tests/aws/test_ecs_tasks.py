"""The shared ECS task client (``rightsizing.adapters.ecs``): calls checked against the ECS API model by botocore's
Stubber, DescribeTasks split at its documented limit, and the one error policy both callers rely on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from rightsizing.adapters.ecs import DESCRIBE_BATCH, REASON_MAX, EcsCallFailed, EcsTasks
from rightsizing.adapters.sweep import RunSweeper
from rightsizing.exceptions import AwsAccessDenied, AwsThrottled

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/loadtest"


def _arn(n: int) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task/loadtest/t{n:04d}"


@pytest.fixture
def ecs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ecs", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_describe_splits_at_the_api_limit_and_asks_for_tags(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    arns = [_arn(n) for n in range(DESCRIBE_BATCH + 5)]
    for batch in (arns[:DESCRIBE_BATCH], arns[DESCRIBE_BATCH:]):
        tasks = [{"taskArn": arn, "lastStatus": "RUNNING"} for arn in batch]
        stubber.add_response(
            "describe_tasks",
            {"tasks": tasks, "failures": []},
            {"cluster": CLUSTER, "tasks": batch, "include": ["TAGS"]},
        )

    described = EcsTasks(CLUSTER, client).describe(arns, tags=True)

    assert [task["taskArn"] for task in described] == arns


def test_describe_of_no_task_makes_no_call(ecs: tuple[Any, Stubber]) -> None:
    client, _ = ecs
    assert EcsTasks(CLUSTER, client).describe([]) == []  # the Stubber refuses any call not queued


def test_started_by_lists_every_page_with_started_by_as_the_only_filter(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    params = {"cluster": CLUSTER, "startedBy": "rightsizing/run-1"}
    stubber.add_response("list_tasks", {"taskArns": [_arn(1)], "nextToken": "page-2"}, params)
    stubber.add_response("list_tasks", {"taskArns": [_arn(2)]}, {**params, "nextToken": "page-2"})

    assert EcsTasks(CLUSTER, client).started_by("rightsizing/run-1") == [_arn(1), _arn(2)]


def test_stop_tries_every_task_and_returns_the_ones_that_failed(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    reason = "x" * (REASON_MAX + 40)
    stubber.add_response("stop_task", {}, {"cluster": CLUSTER, "task": _arn(0), "reason": "x" * REASON_MAX})
    stubber.add_client_error("stop_task", "ServerException", "try again", 500)
    stubber.add_client_error("stop_task", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_response("stop_task", {}, {"cluster": CLUSTER, "task": _arn(3), "reason": "x" * REASON_MAX})

    failed = EcsTasks(CLUSTER, client).stop([_arn(n) for n in range(4)], reason)

    assert set(failed) == {_arn(1), _arn(2)}
    assert isinstance(failed[_arn(1)], EcsCallFailed) and "ServerException: try again" in str(failed[_arn(1)])
    assert isinstance(failed[_arn(2)], AwsThrottled)


@pytest.mark.parametrize(
    ("code", "status", "raised"),
    [
        ("ThrottlingException", 400, AwsThrottled),
        ("AccessDeniedException", 400, AwsAccessDenied),
        ("ClusterNotFoundException", 400, EcsCallFailed),
    ],
)
def test_every_call_translates_errors_one_way(
    ecs: tuple[Any, Stubber], code: str, status: int, raised: type[Exception]
) -> None:
    client, stubber = ecs
    stubber.add_client_error("run_task", code, "no", status)
    stubber.add_client_error("describe_tasks", code, "no", status)
    stubber.add_client_error("list_tasks", code, "no", status)
    tasks = EcsTasks(CLUSTER, client)

    with pytest.raises(raised, match="ECS RunTask"):
        tasks.run(taskDefinition="worker:1")
    with pytest.raises(raised, match="ECS DescribeTasks"):
        tasks.describe([_arn(1)])
    with pytest.raises(raised, match="ECS ListTasks"):
        tasks.started_by("rightsizing/run-1")


def test_a_transport_failure_is_an_ecs_call_failure() -> None:
    class Unreachable:
        def describe_tasks(self, **_: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com")

    with pytest.raises(EcsCallFailed, match="Could not connect"):
        EcsTasks(CLUSTER, Unreachable()).describe([_arn(1)])


def test_the_sweeper_stops_the_other_tasks_before_reporting_a_throttle(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_response("list_tasks", {"taskArns": [_arn(1), _arn(2)]})
    stubber.add_client_error("stop_task", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_response("stop_task", {}, {"cluster": CLUSTER, "task": _arn(2), "reason": "rightsizing sweeper: run r"})
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")

    with pytest.raises(AwsThrottled):  # the cleanup state machine retries the sweep on AwsThrottled
        RunSweeper(client=sagemaker, cluster=CLUSTER, ecs=client).sweep("r")
