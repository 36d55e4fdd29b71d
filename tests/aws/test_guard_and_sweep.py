"""The AWS guard (before anything is created) and the sweeper (after a run stopped), against moto's SageMaker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from rightsizing.adapters.guard import AwsGuard
from rightsizing.adapters.sagemaker import SageMakerEndpoints
from rightsizing.adapters.sweep import RunSweeper
from rightsizing.exceptions import InvalidRequest, QuotaExceeded
from rightsizing.models.plan import CANDIDATE_TAG, RUN_ID_TAG, resource_name, run_name_prefix
from rightsizing.models.request import RightsizingRequest

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
MakeRequest = Callable[..., RightsizingRequest]  # the `aws_request` fixture (tests/conftest.py)


class FixedQuotas:
    def __init__(self, quotas: dict[str, float]) -> None:
        self.quotas = quotas
        self.lookups = 0

    def endpoint_usage_quotas(self) -> dict[str, float]:
        self.lookups += 1
        return self.quotas


@pytest.fixture
def sagemaker() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sagemaker", region_name="us-east-1")


def _deploy(client: Any, name: str, instance_type: str = "ml.m5.xlarge", tags: dict[str, str] | None = None) -> None:
    tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    client.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"}, Tags=tag_list)
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": instance_type, "InitialInstanceCount": 1}
    client.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], Tags=tag_list)
    client.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tag_list)


def test_guard_refuses_a_request_for_another_region_than_the_stack(aws_request: MakeRequest) -> None:
    guard = AwsGuard(region="eu-west-1", quotas=FixedQuotas({}))  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="runs benchmarks in eu-west-1, not us-east-1"):
        guard.check(aws_request([{"instance_type": "ml.c5.xlarge"}]))


def test_guard_checks_quotas_of_deployed_candidates(aws_request: MakeRequest) -> None:
    guard = AwsGuard(region="us-east-1", quotas=FixedQuotas({"ml.c5.xlarge": 0}))  # type: ignore[arg-type]
    with pytest.raises(QuotaExceeded):
        guard.check(aws_request([{"instance_type": "ml.c5.xlarge"}]))


def test_guard_accepts_an_in_service_existing_endpoint_of_the_right_type(
    sagemaker: Any, aws_request: MakeRequest
) -> None:
    _deploy(sagemaker, "fraud-prod", "ml.m5.xlarge")
    asked = FixedQuotas({})
    guard = AwsGuard(region="us-east-1", quotas=asked, endpoints=SageMakerEndpoints(client=sagemaker))  # type: ignore[arg-type]
    guard.check(aws_request([{"instance_type": "ml.m5.xlarge", "endpoint_name": "fraud-prod"}]))
    assert asked.lookups == 0  # an existing endpoint needs no new instance, so no quota


@pytest.mark.parametrize(
    ("endpoint", "instance_type", "message"),
    [
        ("fraud-prod", "ml.c5.xlarge", "runs on ml.m5.xlarge, not ml.c5.xlarge"),
        ("missing", "ml.m5.xlarge", "no endpoint"),
    ],
)
def test_guard_refuses_an_unusable_existing_endpoint(
    sagemaker: Any, endpoint: str, instance_type: str, message: str, aws_request: MakeRequest
) -> None:
    _deploy(sagemaker, "fraud-prod", "ml.m5.xlarge")
    guard = AwsGuard(region="us-east-1", endpoints=SageMakerEndpoints(client=sagemaker))
    with pytest.raises(InvalidRequest, match=message):
        guard.check(aws_request([{"instance_type": instance_type, "endpoint_name": endpoint}]))


def test_sweep_deletes_only_the_runs_tagged_resources(sagemaker: Any) -> None:
    run, other = "fraud-20250101-120000-ab12", "fraud-20250101-130000-cd34"
    mine = resource_name(run, 1)
    _deploy(sagemaker, mine, tags={RUN_ID_TAG: run, CANDIDATE_TAG: "c01"})
    _deploy(sagemaker, resource_name(other, 1), tags={RUN_ID_TAG: other})
    _deploy(sagemaker, resource_name(run, 2))  # right prefix, no tag: not provably the run's, left alone

    report = RunSweeper(client=sagemaker).sweep(run)

    assert report.done and sorted(report.deleted) == [f"endpoint-config/{mine}", f"endpoint/{mine}", f"model/{mine}"]
    left = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    assert sorted(left) == sorted([resource_name(other, 1), resource_name(run, 2)])


def test_sweep_of_one_candidate_leaves_the_other_candidates_of_a_running_run(sagemaker: Any) -> None:
    run = "fraud-20250101-120000-ab12"
    _deploy(sagemaker, resource_name(run, 1), tags={RUN_ID_TAG: run, CANDIDATE_TAG: "c01-ml-m5-xlarge"})
    _deploy(sagemaker, resource_name(run, 2), tags={RUN_ID_TAG: run, CANDIDATE_TAG: "c02-ml-c5-xlarge"})

    report = RunSweeper(client=sagemaker).sweep(run, candidate_id="c01-ml-m5-xlarge")

    assert f"endpoint/{resource_name(run, 1)}" in report.deleted
    assert [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]] == [resource_name(run, 2)]


class CreatingEndpoints:
    """moto's endpoints are InService at once; a real one can sit in Creating for an hour."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def get_paginator(self, operation: str) -> Any:
        paginator = self.inner.get_paginator(operation)
        if operation != "list_endpoints":
            return paginator

        class Creating:
            def paginate(self, **kwargs: Any) -> Any:
                for page in paginator.paginate(**kwargs):
                    yield {**page, "Endpoints": [{**e, "EndpointStatus": "Creating"} for e in page["Endpoints"]]}

        return Creating()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_sweep_keeps_config_and_model_while_the_endpoint_is_still_creating(sagemaker: Any) -> None:
    run = "fraud-20250101-120000-ab12"
    name = resource_name(run, 1)
    _deploy(sagemaker, name, tags={RUN_ID_TAG: run})

    report = RunSweeper(client=CreatingEndpoints(sagemaker)).sweep(run)

    assert not report.done and report.deleted == []
    kept = "(kept until the endpoints of the run are deleted)"
    # all three named, so a person can delete them by hand if the sweeps give up
    assert report.remaining == [f"endpoint/{name} (Creating)", f"endpoint-config/{name} {kept}", f"model/{name} {kept}"]
    assert sagemaker.list_models()["Models"] and sagemaker.list_endpoint_configs()["EndpointConfigs"]


def test_run_prefix_matches_every_resource_name_of_the_run() -> None:
    run = "a-very-long-run-name-that-is-cut-to-forty-characters-20250101"
    assert all(resource_name(run, i).startswith(run_name_prefix(run)) for i in (1, 9, 10, 40))
    assert not resource_name("another-run", 1).startswith(run_name_prefix(run))


CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/rightsizing-LoadTestCluster-abc"


def _task(n: int) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task/rightsizing-LoadTestCluster-abc/worker{n}"


@pytest.fixture
def ecs(stubbed: Callable[..., tuple[Any, Stubber]]) -> tuple[Any, Stubber]:
    return stubbed("ecs")


def test_sweep_stops_the_runs_worker_tasks_found_by_started_by(sagemaker: Any, ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    run = "fraud-20250101-120000-ab12"
    listed = {"cluster": CLUSTER, "startedBy": f"rightsizing/{run}"}  # RUNNING is ListTasks' default
    stubber.add_response("list_tasks", {"taskArns": [_task(1), _task(2)]}, listed)
    for n in (1, 2):
        stop = {"cluster": CLUSTER, "task": _task(n), "reason": f"rightsizing sweeper: run {run}"}
        stubber.add_response("stop_task", {"task": {"taskArn": _task(n)}}, stop)

    report = RunSweeper(client=sagemaker, cluster=CLUSTER, ecs=client).sweep(run)

    assert report.done and report.deleted == ["task/worker1", "task/worker2"]


def test_sweep_of_one_candidate_stops_only_that_candidates_worker_tasks(
    sagemaker: Any, ecs: tuple[Any, Stubber]
) -> None:
    client, stubber = ecs
    run = "fraud-20250101-120000-ab12"
    stubber.add_response("list_tasks", {"taskArns": [_task(1), _task(2)]})
    tags = [{"key": RUN_ID_TAG, "value": run}]
    stubber.add_response(
        "describe_tasks",
        {
            "tasks": [
                {"taskArn": _task(1), "tags": [*tags, {"key": CANDIDATE_TAG, "value": "c01-ml-m5-xlarge"}]},
                {"taskArn": _task(2), "tags": [*tags, {"key": CANDIDATE_TAG, "value": "c02-ml-c5-xlarge"}]},
            ]
        },
        {"cluster": CLUSTER, "tasks": [_task(1), _task(2)], "include": ["TAGS"]},
    )
    stubber.add_response("stop_task", {"task": {"taskArn": _task(1)}})

    report = RunSweeper(client=sagemaker, cluster=CLUSTER, ecs=client).sweep(run, candidate_id="c01-ml-m5-xlarge")

    assert report.deleted == ["task/worker1"]


def test_worker_tasks_carry_the_handle_the_sweeper_lists_them_by() -> None:
    from rightsizing.models.plan import worker_started_by

    assert worker_started_by("fraud-20250101-120000-ab12") == "rightsizing/fraud-20250101-120000-ab12"
    assert worker_started_by("odd.name:1") == "rightsizing/odd-name-1"  # only characters ECS accepts
    assert len(worker_started_by("x" * 200)) == 128
