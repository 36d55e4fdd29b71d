"""The AWS ``CapacityGuard``: everything that would make a run fail on AWS, checked before anything is created."""

from __future__ import annotations

import os
from collections.abc import Collection
from functools import cache

from rightsizing.adapters.sagemaker import SageMakerEndpoints
from rightsizing.adapters.service_quotas import ServiceQuotas, check_endpoint_quotas
from rightsizing.exceptions import InvalidRequest
from rightsizing.models.messages import did_you_mean, shown
from rightsizing.models.request import RightsizingRequest


@cache
def sagemaker_regions() -> frozenset[str]:
    """Regions where SageMaker exists, from botocore's bundled endpoint data (no network call)."""
    import boto3

    return frozenset(boto3.session.Session().get_available_regions("sagemaker"))


def check_region(region: str) -> None:
    """InvalidRequest unless SageMaker exists in ``region``."""
    if region not in sagemaker_regions():
        # The nearest names only: the whole list is 30-odd regions, five lines of a terminal.
        raise InvalidRequest(
            "region", f"{shown(region)} is not a region where SageMaker runs{did_you_mean(region, sagemaker_regions())}"
        )


@cache
def hosting_instance_types() -> frozenset[str]:
    """SageMaker's real-time hosting instance types: the ``ProductionVariantInstanceType`` enum of botocore's bundled
    sagemaker service model (no network call)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)


def unknown_instance_type(instance_type: str, also_known: Collection[str] = ()) -> str | None:
    """Why ``instance_type`` cannot host an endpoint (with the nearest known names), or None when it can."""
    known = hosting_instance_types()
    if instance_type in known or instance_type in also_known:
        return None
    import botocore

    # The list is as new as the installed botocore: a type launched after it needs a newer botocore.
    return (
        f"{shown(instance_type)} is not a SageMaker real-time hosting instance type "
        f"(ProductionVariantInstanceType, botocore {botocore.__version__}){did_you_mean(instance_type, known)}"
    )


def check_instance_types(request: RightsizingRequest, also_known: Collection[str] = ()) -> None:
    """InvalidRequest naming each candidate whose ml.* type SageMaker hosting does not know (local.* are skipped).

    ``also_known``: types the region's Service Quotas list; a Lambda runtime's botocore lags the SDK by months, so a
    type launched since is known there and not refused.
    """
    problems = [
        (f"candidates.{index}.instance_type", problem)
        for index, spec in enumerate(request.candidates)
        if not spec.is_local
        and not spec.is_serverless
        and (problem := unknown_instance_type(spec.instance_type, also_known))
    ]
    if problems:
        raise InvalidRequest(*problems[0], *problems[1:])


def _check_payloads_in_s3(request: RightsizingRequest) -> None:
    """On AWS a payload file or archive is an s3:// URI: a path would be read from the plan function's own file
    system (its code, /proc/self/environ and its credentials), not the user's (``rightsize start`` inlines those)."""
    payloads = request.payloads
    for field, names in (("payloads.files", payloads.files), ("payloads.archive", [payloads.archive or "s3://"])):
        for name in names:
            if not name.startswith("s3://"):
                raise InvalidRequest(
                    field,
                    f"'{name}' is not an s3:// URI: on AWS payload files and archives are read from the results "
                    "bucket (rightsize start inlines local files)",
                )


class AwsGuard:
    """Local profiles refused, the request's region is the stack's, instance types known to SageMaker hosting,
    quotas suffice, existing endpoints usable.

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
        _check_payloads_in_s3(request)
        check_region(request.region)
        if self._region and request.region != self._region:
            raise InvalidRequest(
                "region",
                f"this stack runs benchmarks in {self._region}, not {request.region}; "
                f"deploy it in {request.region} or change the request",
            )
        deploys = any(spec.endpoint_name is None for spec in request.candidates)
        quotas = (self._quotas or ServiceQuotas(region=self._region)).endpoint_usage_quotas() if deploys else {}
        check_instance_types(request, also_known=quotas)  # before the quota check: an unknown type gets suggestions
        if deploys:
            check_endpoint_quotas(request, quotas)
        for index, spec in enumerate(request.candidates):
            if spec.endpoint_name is not None:
                endpoints = self._endpoints = self._endpoints or SageMakerEndpoints(region=self._region)
                endpoints.check_existing(f"candidates.{index}.endpoint_name", spec.endpoint_name, spec.instance_type)
