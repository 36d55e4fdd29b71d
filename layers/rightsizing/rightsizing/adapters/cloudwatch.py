"""CloudWatch: the endpoint's own view of the load test (server-side latency, errors, utilisation).

One GetMetricData call, one datapoint per query aggregated over the whole test window (the period is the window
rounded up to whole minutes: SageMaker publishes these metrics per minute). Metrics the instance does not have
(GPU on a CPU instance) or that CloudWatch has not received come back empty and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.adapters.errors import translate
from rightsizing.models.plan import CandidatePlan

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
MS_PER_MICROSECOND = 0.001


@dataclass(frozen=True)
class MetricQuery:
    key: str  # the name in CandidateResult.server_metrics
    namespace: str
    metric: str
    stat: str
    scale: float = 1.0  # multiply the value by this (latencies: microseconds -> milliseconds)


QUERIES: tuple[MetricQuery, ...] = (
    MetricQuery("Invocations", INVOCATION_NAMESPACE, "Invocations", "Sum"),
    MetricQuery("Invocation4XXErrors", INVOCATION_NAMESPACE, "Invocation4XXErrors", "Sum"),
    MetricQuery("Invocation5XXErrors", INVOCATION_NAMESPACE, "Invocation5XXErrors", "Sum"),
    MetricQuery("ModelLatencyAverageMs", INVOCATION_NAMESPACE, "ModelLatency", "Average", MS_PER_MICROSECOND),
    MetricQuery("ModelLatencyP95Ms", INVOCATION_NAMESPACE, "ModelLatency", "p95", MS_PER_MICROSECOND),
    MetricQuery("ModelLatencyMaxMs", INVOCATION_NAMESPACE, "ModelLatency", "Maximum", MS_PER_MICROSECOND),
    MetricQuery("OverheadLatencyAverageMs", INVOCATION_NAMESPACE, "OverheadLatency", "Average", MS_PER_MICROSECOND),
    # Utilisation is per core (or GPU), summed: 400 % is four busy vCPUs.
    MetricQuery("CPUUtilization", INSTANCE_NAMESPACE, "CPUUtilization", "Average"),
    MetricQuery("CPUUtilizationMax", INSTANCE_NAMESPACE, "CPUUtilization", "Maximum"),
    MetricQuery("MemoryUtilization", INSTANCE_NAMESPACE, "MemoryUtilization", "Average"),
    MetricQuery("MemoryUtilizationMax", INSTANCE_NAMESPACE, "MemoryUtilization", "Maximum"),
    MetricQuery("GPUUtilization", INSTANCE_NAMESPACE, "GPUUtilization", "Average"),
    MetricQuery("GPUUtilizationMax", INSTANCE_NAMESPACE, "GPUUtilization", "Maximum"),
    MetricQuery("GPUMemoryUtilization", INSTANCE_NAMESPACE, "GPUMemoryUtilization", "Average"),
    MetricQuery("GPUMemoryUtilizationMax", INSTANCE_NAMESPACE, "GPUMemoryUtilization", "Maximum"),
)


def metric_window(start_epoch: float, end_epoch: float) -> tuple[datetime, datetime, int]:
    """Start and end on whole minutes around the test, and the period covering it in one datapoint."""
    start = math.floor(start_epoch / 60) * 60
    period = max(60, math.ceil((end_epoch - start) / 60) * 60)
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + period, UTC), period


def metric_data_queries(endpoint_name: str, variant_name: str, period: int) -> list[dict[str, Any]]:
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant_name}]
    return [
        {
            "Id": f"m{index}",  # ids must start with a lower-case letter
            "MetricStat": {
                "Metric": {"Namespace": q.namespace, "MetricName": q.metric, "Dimensions": dimensions},
                "Period": period,
                "Stat": q.stat,
            },
            "ReturnData": True,
        }
        for index, q in enumerate(QUERIES)
    ]


class CloudWatchEndpointMetrics:
    """``EndpointMetrics`` on AWS; ``client`` is a ``cloudwatch`` client (or a Stubber'd one)."""

    def __init__(self, client: Any = None, region: str | None = None) -> None:
        self._client = client if client is not None else aws_client("cloudwatch", region)

    def collect(self, candidate: CandidatePlan, start_epoch: float, end_epoch: float) -> dict[str, float]:
        start, end, period = metric_window(start_epoch, end_epoch)
        request: dict[str, Any] = {
            "MetricDataQueries": metric_data_queries(candidate.endpoint_name, candidate.variant_name, period),
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        values: dict[str, float] = {}
        try:
            while True:
                page = self._client.get_metric_data(**request)
                for result in page.get("MetricDataResults", []):
                    query = QUERIES[int(result["Id"][1:])]
                    if result.get("Values"):
                        values[query.key] = round(float(result["Values"][0]) * query.scale, 3)
                if not page.get("NextToken"):
                    return values
                request["NextToken"] = page["NextToken"]
        except ClientError as e:
            translate(e, f"CloudWatch GetMetricData for endpoint {candidate.endpoint_name}")
