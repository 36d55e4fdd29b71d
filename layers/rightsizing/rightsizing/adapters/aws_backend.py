"""The AWS implementation of the pipeline's seams, used by the Lambda handlers in functions/."""

from __future__ import annotations

import os

from rightsizing.adapters.cloudwatch import CloudWatchEndpointMetrics
from rightsizing.adapters.eventbridge import EventBridgePublisher
from rightsizing.adapters.guard import AwsGuard
from rightsizing.adapters.history_dynamodb import DynamoDbHistory
from rightsizing.adapters.pricing_api import price_list_with_fallback
from rightsizing.adapters.s3 import UriStore
from rightsizing.adapters.sweep import RunSweeper
from rightsizing.exceptions import InvalidRequest
from rightsizing.history_budget import HISTORY_EVENT_BUDGET
from rightsizing.models.events import PutEventsEntry
from rightsizing.models.history import DEFAULT_CHANGE_THRESHOLD_PERCENT
from rightsizing.models.request import ContainerModelSource, ModelPackageSource, RightsizingRequest
from rightsizing.models.result import SweepReport
from rightsizing.ports import Backend

AWS_POLL_SECONDS = 30  # endpoints take 5-15 min to reach InService; 30 s polls cost ~20-30 transitions each
# CloudWatch shows SageMaker's per-minute metrics a minute or two late; the wait runs after the endpoint is deleted.
AWS_METRICS_DELAY_SECONDS = 120


class AwsContainers:
    def primary_container(self, request: RightsizingRequest, environment: dict[str, str]) -> dict[str, object]:
        source = request.model
        if isinstance(source, ContainerModelSource):
            container: dict[str, object] = {"Image": source.image, "Environment": {**source.environment, **environment}}
            if source.model_data_url:
                container["ModelDataUrl"] = source.model_data_url
            return container
        if isinstance(source, ModelPackageSource):
            return {"ModelPackageName": source.model_package_arn, "Environment": dict(environment)}
        raise InvalidRequest("model", "a local model cannot be deployed to SageMaker")


class _LazySweeper:
    """Builds its SageMaker and ECS clients only when a sweep runs (only the cleanup function sweeps)."""

    def sweep(self, run_id: str, candidate_id: str | None = None) -> SweepReport:
        return RunSweeper(cluster=os.environ.get("LOAD_TEST_CLUSTER_ARN")).sweep(run_id, candidate_id)


class _LazyPublisher:
    """Builds its EventBridge client only when something is published (only the RunFailed function publishes)."""

    def publish(self, entries: list[PutEventsEntry]) -> None:
        EventBridgePublisher().publish(entries)


def aws_backend() -> Backend:
    """The Lambda functions' backend; the environment variables are set by template.yaml."""
    return Backend(
        mode="aws",
        prices=price_list_with_fallback(),
        guard=AwsGuard(),
        containers=AwsContainers(),
        metrics=CloudWatchEndpointMetrics(),
        store=UriStore(),
        default_poll_seconds=AWS_POLL_SECONDS,
        history_event_budget=HISTORY_EVENT_BUDGET,
        metrics_delay_seconds=AWS_METRICS_DELAY_SECONDS,
        # template.yaml's MaxParallelCandidates: a deployment-wide cap on endpoints benchmarked at once.
        max_parallel_candidates=int(os.environ.get("RIGHTSIZING_MAX_PARALLEL_CANDIDATES", "40")),
        # The cleanup state machine also stops the run's load-generator worker tasks in the load-test cluster.
        sweeper=_LazySweeper(),
        # template.yaml: the HistoryTable's name (Recommend only), the bus and the change threshold.
        history=DynamoDbHistory(table) if (table := os.environ.get("HISTORY_TABLE_NAME")) else None,
        events=_LazyPublisher(),
        event_bus_name=os.environ.get("EVENT_BUS_NAME", "default"),
        change_threshold_percent=float(
            os.environ.get("RIGHTSIZING_CHANGE_THRESHOLD_PERCENT", DEFAULT_CHANGE_THRESHOLD_PERCENT)
        ),
    )
