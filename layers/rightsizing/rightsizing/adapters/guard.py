"""The AWS ``CapacityGuard``: everything that would make a run fail on AWS, checked before anything is created."""

from __future__ import annotations

import os
from functools import cache

from rightsizing.adapters.sagemaker import SageMakerEndpoints
from rightsizing.adapters.service_quotas import ServiceQuotas, check_endpoint_quotas
from rightsizing.exceptions import InvalidRequest
from rightsizing.models.request import RightsizingRequest


@cache
def sagemaker_regions() -> frozenset[str]:
    """Regions where SageMaker exists, from botocore's bundled endpoint data (no network call)."""
    import boto3

    return frozenset(boto3.session.Session().get_available_regions("sagemaker"))


def check_region(region: str) -> None:
    """InvalidRequest unless SageMaker exists in ``region``."""
    if region not in sagemaker_regions():
        raise InvalidRequest(
            "region", f"unknown region '{region}' (SageMaker regions: {', '.join(sorted(sagemaker_regions()))})"
        )


class AwsGuard:
    """Local profiles refused, the request's region is the stack's, quotas suffice, existing endpoints usable.

    ``region`` defaults to the Lambda's own (``AWS_REGION``): the state machine creates endpoints in its region, so
    a request for another one would benchmark the wrong place.
    """

    def __init__(
        self,
        region: str | None = None,
        quotas: ServiceQuotas | None = None,
        endpoints: SageMakerEndpoints | None = None,
    ) -> None:
        self._region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self._quotas = quotas
        self._endpoints = endpoints

    def check(self, request: RightsizingRequest) -> None:
        if request.is_local:
            raise InvalidRequest("candidates", "local.* profiles only run in local mode")
        check_region(request.region)
        if self._region and request.region != self._region:
            raise InvalidRequest(
                "region",
                f"this stack runs benchmarks in {self._region}, not {request.region}; "
                f"deploy it in {request.region} or change the request",
            )
        if any(spec.endpoint_name is None for spec in request.candidates):
            quotas = self._quotas or ServiceQuotas(region=self._region)
            check_endpoint_quotas(request, quotas.endpoint_usage_quotas())
        for index, spec in enumerate(request.candidates):
            if spec.endpoint_name is not None:
                endpoints = self._endpoints = self._endpoints or SageMakerEndpoints(region=self._region)
                endpoints.check_existing(f"candidates.{index}.endpoint_name", spec.endpoint_name, spec.instance_type)
