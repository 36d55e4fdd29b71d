"""CloudWatch adapter with botocore's Stubber: the exact GetMetricData request, units, pagination, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from rightsizing.adapters.cloudwatch import QUERIES, CloudWatchEndpointMetrics, metric_window
from rightsizing.exceptions import AwsThrottled
from rightsizing.models.plan import CandidatePlan

Stubbed = Callable[..., tuple[Any, Stubber]]  # the `stubbed` fixture (tests/conftest.py)


def _candidate() -> CandidatePlan:
    return CandidatePlan(
        run_id="r",
        candidate_id="c01-ml-c5-xlarge",
        instance_type="ml.c5.xlarge",
        environment={},
        model_name="rightsize-r-c01",
        endpoint_config_name="rightsize-r-c01",
        endpoint_name="rightsize-r-c01",
        container={},
        tags=[],
        job_uri="s3://b/j",
        results_uri="s3://b/r",
        poll_seconds=30,
        max_polls=10,
        load_test_timeout_seconds=900,
    )


def test_window_covers_the_test_in_one_period_of_whole_minutes() -> None:
    start, end, period = metric_window(1_700_000_010.5, 1_700_000_130.0)
    assert start == datetime.fromtimestamp(1_699_999_980, UTC)  # rounded down to the minute
    assert period == 180 and (end - start).total_seconds() == 180


def test_collect_sends_one_query_per_metric_and_converts_microseconds(stubbed: Stubbed) -> None:
    client, stub = stubbed("cloudwatch")
    by_key = {q.key: f"m{i}" for i, q in enumerate(QUERIES)}
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {"Id": by_key["Invocations"], "Values": [12000.0], "StatusCode": "Complete"},
                {"Id": by_key["ModelLatencyAverageMs"], "Values": [8500.0], "StatusCode": "Complete"},
                {"Id": by_key["GPUUtilization"], "Values": [], "StatusCode": "Complete"},  # CPU instance
            ],
            "NextToken": "page2",
        },
        {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"},
    )
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [{"Id": by_key["CPUUtilization"], "Values": [187.5], "StatusCode": "Complete"}]},
        {
            "MetricDataQueries": ANY,
            "StartTime": ANY,
            "EndTime": ANY,
            "ScanBy": "TimestampAscending",
            "NextToken": "page2",
        },
    )
    metrics = CloudWatchEndpointMetrics(client=client).collect(_candidate(), 1_700_000_000, 1_700_000_300)
    assert metrics == {"Invocations": 12000.0, "ModelLatencyAverageMs": 8.5, "CPUUtilization": 187.5}


def test_queries_name_the_endpoint_and_variant_in_both_namespaces(stubbed: Stubbed) -> None:
    client, stub = stubbed("cloudwatch")
    seen: list[dict] = []
    client.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData", lambda params, **_: seen.append(params)
    )
    stub.add_response("get_metric_data", {"MetricDataResults": []})
    CloudWatchEndpointMetrics(client=client).collect(_candidate(), 1_700_000_000, 1_700_000_060)
    queries = seen[0]["MetricDataQueries"]
    namespaces = {q["MetricStat"]["Metric"]["Namespace"] for q in queries}
    assert namespaces == {"AWS/SageMaker", "/aws/sagemaker/Endpoints"}
    for query in queries:
        dimensions = query["MetricStat"]["Metric"]["Dimensions"]
        assert dimensions == [
            {"Name": "EndpointName", "Value": "rightsize-r-c01"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ]
        assert query["MetricStat"]["Period"] == 120 and query["Id"][0].islower()  # 80 s from a whole minute
    names = {q["MetricStat"]["Metric"]["MetricName"] for q in queries}
    assert {
        "ModelLatency",
        "OverheadLatency",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "MemoryUtilization",
        "GPUMemoryUtilization",
    } <= names


def test_throttling_is_retryable_for_the_state_machine(stubbed: Stubbed) -> None:
    client, stub = stubbed("cloudwatch")
    stub.add_client_error("get_metric_data", service_error_code="Throttling", service_message="Rate exceeded")
    with pytest.raises(AwsThrottled):
        CloudWatchEndpointMetrics(client=client).collect(_candidate(), 1_700_000_000, 1_700_000_060)
