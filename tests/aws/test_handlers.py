"""The Powertools handlers in functions/, invoked with their events/functions/*.json against moto (S3, SageMaker,
CloudWatch). Service Quotas and the Price List API are replaced by fixed answers (moto does not model them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from conftest import FakeLambdaContext, function_event, load_handler
from moto import mock_aws

from rightsizing.adapters import aws_backend, guard
from rightsizing.exceptions import LoadTestFailed, QuotaExceeded
from rightsizing.models.plan import RUN_ID_TAG, resource_name
from rightsizing.models.result import LoadTestResult
from rightsizing.models.targets import LatencySla
from rightsizing.pricing.snapshot import SnapshotPrices

BUCKET = "rightsizing-results-test"
PLACEHOLDER = "s3://REPLACE-WITH-RESULTS-BUCKET"


def _event(name: str) -> dict[str, Any]:
    """A function event with its bucket placeholder pointed at the test bucket."""
    return json.loads(json.dumps(function_event(name)).replace(PLACEHOLDER, f"s3://{BUCKET}"))


class FixedQuotas:
    quotas: dict[str, float] = {}

    def __init__(self, client: Any = None, region: str | None = None) -> None:
        pass

    def endpoint_usage_quotas(self) -> dict[str, float]:
        return dict(self.quotas)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(guard, "ServiceQuotas", FixedQuotas)
    monkeypatch.setattr(aws_backend, "price_list_with_fallback", SnapshotPrices)
    types = ("ml.c5.xlarge", "ml.m5.xlarge", "ml.c6i.xlarge", "ml.c7g.xlarge", "ml.r5.xlarge")
    FixedQuotas.quotas = dict.fromkeys(types, 2.0)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def _read_json(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_plan_handler_writes_jobs_and_tags_every_resource_with_the_run_id(
    aws: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIGHTSIZING_MAX_PARALLEL_CANDIDATES", "2")
    event = _event("plan")
    plan = load_handler("plan").lambda_handler(event, lambda_context)

    run_id = event["run_id"]
    assert plan["max_concurrency"] == 2  # the stack's cap lowers the request's 3
    assert len(plan["candidates"]) == 6  # c6i's environment grid adds a benchmark
    for index, candidate in enumerate(plan["candidates"], start=1):
        assert candidate["endpoint_name"] == resource_name(run_id, index)
        assert {"Key": RUN_ID_TAG, "Value": run_id} in candidate["tags"]
        assert candidate["poll_seconds"] >= 30 and candidate["metrics_delay_seconds"] > 0
        assert candidate["max_delete_attempts"] == candidate["max_polls"]
        job = _read_json(aws, candidate["job_uri"].removeprefix(f"s3://{BUCKET}/"))
        assert job["endpoint_name"] == candidate["endpoint_name"] and job["region"] == "us-east-1"
    assert _read_json(aws, f"runs/{run_id}/request.json")["name"] == "fraud-xgboost"


def test_plan_handler_refuses_before_writing_anything_when_a_quota_is_short(
    aws: Any, lambda_context: FakeLambdaContext
) -> None:
    FixedQuotas.quotas = {**FixedQuotas.quotas, "ml.c7g.xlarge": 0}
    with pytest.raises(QuotaExceeded, match=r"ml\.c7g\.xlarge for endpoint usage"):
        load_handler("plan").lambda_handler(_event("plan"), lambda_context)
    assert aws.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def _load_result(candidate: dict[str, Any]) -> LoadTestResult:
    return LoadTestResult(
        candidate_id=candidate["candidate_id"],
        mode="adaptive",
        sla=LatencySla(percentile="p95", milliseconds=100),
        sustainable_rps=210.0,
        saturation_rps=250.0,
        latency_at_sustainable={"p50": 20, "p90": 40, "p95": 60, "p99": 90},
        error_rate_at_sustainable=0.0,
        requests=100_000,
        failures=0,
        test_seconds=600,
        started_epoch=1_735_736_400,
        stop_reason="converged",
        probes=[],
    )


def test_collect_metrics_handler_combines_the_load_test_with_cloudwatch(
    aws: Any, lambda_context: FakeLambdaContext
) -> None:
    event = _event("collect_metrics")
    candidate = event["candidate"]
    key = f"{candidate['results_uri'].removeprefix(f's3://{BUCKET}/')}/result.json"
    load_test = _load_result(candidate)
    aws.put_object(Bucket=BUCKET, Key=key, Body=load_test.model_dump_json())
    # What SageMaker publishes per minute during the test, and a datapoint of another endpoint that must not count.
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    minutes = [datetime.fromtimestamp(load_test.started_epoch + 60 * m, UTC) for m in range(10)]
    for endpoint, invocations in ((candidate["endpoint_name"], 1000.0), ("another-endpoint", 7.0)):
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": t, "Value": invocations}
                for t in minutes
            ],
        )
        cloudwatch.put_metric_data(
            Namespace="/aws/sagemaker/Endpoints",
            MetricData=[
                {"MetricName": "CPUUtilization", "Dimensions": dimensions, "Timestamp": t, "Value": 150.0 + m}
                for m, t in enumerate(minutes)
            ],
        )

    result = load_handler("collect_metrics").lambda_handler(event, lambda_context)

    assert result["status"] == "succeeded" and result["sustainable_rps"] == 210.0
    metrics = result["server_metrics"]
    assert metrics["Invocations"] == 10_000.0  # ten minutes of this endpoint, summed over the test's window
    assert metrics["CPUUtilization"] == pytest.approx(154.5) and metrics["CPUUtilizationMax"] == 159.0
    assert "GPUUtilization" not in metrics  # never published (a CPU instance): left out, not zero
    assert _read_json(aws, key.replace("result.json", "candidate.json"))["candidate_id"] == candidate["candidate_id"]
    # The iteration's timestamps as Step Functions writes them (EnteredTime ISO 8601, the task's epoch milliseconds).
    assert result["usage"]["endpoint_seconds"] == 870.0 and result["usage"]["endpoint_instances"] == 1
    assert (result["usage"]["task_seconds"], result["usage"]["task_vcpu"], result["usage"]["task_gb"]) == (540, 2, 4)


def test_collect_metrics_handler_fails_the_candidate_without_a_load_test_result(
    aws: Any, lambda_context: FakeLambdaContext
) -> None:
    with pytest.raises(LoadTestFailed, match="wrote no result"):
        load_handler("collect_metrics").lambda_handler(_event("collect_metrics"), lambda_context)


def test_recommend_handler_writes_the_result_and_summarises(aws: Any, lambda_context: FakeLambdaContext) -> None:
    event = _event("recommend")
    request = _event("plan")["request"]
    aws.put_object(Bucket=BUCKET, Key=f"runs/{event['run_id']}/request.json", Body=json.dumps(request))

    output = load_handler("recommend").lambda_handler(event, lambda_context)

    summary = output["summary"]
    assert summary["run_id"] == event["run_id"] and summary["instance_type"] == "ml.c5.xlarge"
    assert [e["DetailType"] for e in output["events"]] == ["Rightsizing Completed"]  # no history table: first run
    result = _read_json(aws, f"runs/{event['run_id']}/result.json")
    failed = {c["candidate_id"]: c for c in result["candidates"]}["c02-ml-m5-xlarge"]
    assert failed["status"] == "failed" and "ResourceLimitExceeded" in failed["failure_reason"]


def test_cleanup_handler_sweeps_the_runs_resources(aws: Any, lambda_context: FakeLambdaContext) -> None:
    event = _event("cleanup")
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    name = resource_name(event["run_id"], 1)
    tags = [{"Key": RUN_ID_TAG, "Value": event["run_id"]}]
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "img"},
        Tags=tags,
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InstanceType": "ml.c5.xlarge",
        "InitialInstanceCount": 1,
    }
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], Tags=tags)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)

    output = load_handler("cleanup").lambda_handler(event, lambda_context)

    assert output["done"] is True and len(output["deleted"]) == 3 and output["remaining"] == []
    assert sagemaker.list_endpoints()["Endpoints"] == [] and sagemaker.list_models()["Models"] == []
