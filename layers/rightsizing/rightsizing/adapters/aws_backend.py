"""The AWS implementation of the pipeline's seams, used by the Lambda handlers in functions/."""

from __future__ import annotations

from rightsizing.backends import Backend
from rightsizing.exceptions import InvalidRequest
from rightsizing.models.plan import CandidatePlan
from rightsizing.models.request import ContainerModelSource, ModelPackageSource, RightsizingRequest
from rightsizing.pricing.snapshot import SnapshotPrices

AWS_POLL_SECONDS = 30  # endpoints take 5-15 min to reach InService; 30 s polls cost ~20-30 transitions each


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


class AwsGuard:
    """Rejects requests that cannot run on AWS. Per-instance-type quota checks belong here (not built yet)."""

    def check(self, request: RightsizingRequest) -> None:
        if request.is_local:
            raise InvalidRequest("invalid request: candidates: local.* profiles only run in local mode")


class NoEndpointMetrics:
    """Endpoint-side metrics (CloudWatch) are not collected yet; results carry client-side figures only."""

    def collect(self, candidate: CandidatePlan, start_epoch: float, end_epoch: float) -> dict[str, float]:
        return {}


def aws_backend() -> Backend:
    return Backend(
        mode="aws",
        prices=SnapshotPrices(),
        guard=AwsGuard(),
        containers=AwsContainers(),
        metrics=NoEndpointMetrics(),
        default_poll_seconds=AWS_POLL_SECONDS,
    )
