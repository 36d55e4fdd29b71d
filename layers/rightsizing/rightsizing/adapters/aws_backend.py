"""The AWS implementation of the pipeline's seams, used by the Lambda handlers in functions/."""

from __future__ import annotations

import os

from rightsizing.adapters.cloudwatch import CloudWatchEndpointMetrics
from rightsizing.adapters.guard import AwsGuard
from rightsizing.adapters.pricing_api import price_list_with_fallback
from rightsizing.backends import Backend
from rightsizing.exceptions import InvalidRequest
from rightsizing.models.request import ContainerModelSource, ModelPackageSource, RightsizingRequest
from rightsizing.steps.history import HISTORY_EVENT_BUDGET

AWS_POLL_SECONDS = 30  # endpoints take 5-15 min to reach InService; 30 s polls cost ~20-30 transitions each
# CloudWatch shows SageMaker's per-minute metrics a minute or two late; the wait runs after the endpoint is deleted.
AWS_METRICS_DELAY_SECONDS = 120


class AwsContainers:
    def primary_container(self, request: RightsizingRequest, environment: dict[str, str]) -> dict:
        source = request.model
        if isinstance(source, ContainerModelSource):
            container: dict = {"Image": source.image, "Environment": {**source.environment, **environment}}
            if source.model_data_url:
                container["ModelDataUrl"] = source.model_data_url
            return container
        if isinstance(source, ModelPackageSource):
            return {"ModelPackageName": source.model_package_arn, "Environment": dict(environment)}
        raise InvalidRequest("invalid request: model: a local model cannot be deployed to SageMaker")


def aws_backend() -> Backend:
    return Backend(
        mode="aws",
        prices=price_list_with_fallback(),
        guard=AwsGuard(),
        containers=AwsContainers(),
        metrics=CloudWatchEndpointMetrics(),
        default_poll_seconds=AWS_POLL_SECONDS,
        history_event_budget=HISTORY_EVENT_BUDGET,
        metrics_delay_seconds=AWS_METRICS_DELAY_SECONDS,
        # template.yaml's MaxParallelCandidates: a deployment-wide cap on endpoints benchmarked at once.
        max_parallel_candidates=int(os.environ.get("RIGHTSIZING_MAX_PARALLEL_CANDIDATES", "40")),
    )
