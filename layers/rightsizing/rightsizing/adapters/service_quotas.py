"""Service Quotas: can every candidate be deployed before anything is created?

New accounts often have a quota of 0 for an instance type's endpoint usage ("ml.g4dn.xlarge for endpoint usage"),
and CreateEndpoint then fails with ResourceLimitExceeded minutes into a run. The plan step checks every candidate
up front (service code ``sagemaker``): ListServiceQuotas gives the values applied to this account, and
ListAWSDefaultServiceQuotas the defaults for quotas never changed (ListServiceQuotas omits those).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.adapters.errors import translate
from rightsizing.exceptions import InvalidRequest, QuotaExceeded
from rightsizing.models.request import RightsizingRequest

SERVICE_CODE = "sagemaker"
ENDPOINT_USAGE_SUFFIX = " for endpoint usage"
QUOTA_CONSOLE = "https://console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas"


def quota_name(instance_type: str) -> str:
    return f"{instance_type}{ENDPOINT_USAGE_SUFFIX}"


class ServiceQuotas:
    """Reads SageMaker's endpoint-usage quotas; ``client`` is a ``service-quotas`` client (or a Stubber'd one)."""

    def __init__(self, client: Any = None, region: str | None = None) -> None:
        self._client = client if client is not None else aws_client("service-quotas", region)

    def endpoint_usage_quotas(self) -> dict[str, float]:
        """``{instance type: instances allowed}``: applied values over AWS defaults."""
        quotas = self._list("list_aws_default_service_quotas")
        quotas.update(self._list("list_service_quotas"))
        return quotas

    def _list(self, operation: str) -> dict[str, float]:
        found: dict[str, float] = {}
        try:
            for page in self._client.get_paginator(operation).paginate(ServiceCode=SERVICE_CODE):
                for quota in page.get("Quotas", []):
                    name = quota.get("QuotaName", "")
                    if name.endswith(ENDPOINT_USAGE_SUFFIX) and "Value" in quota:
                        found[name.removesuffix(ENDPOINT_USAGE_SUFFIX)] = float(quota["Value"])
        except ClientError as e:
            translate(e, f"Service Quotas {operation} for '{SERVICE_CODE}'")
        return found


def instances_needed(request: RightsizingRequest) -> dict[str, int]:
    """Instances of each type that can be in use at once: one per benchmark, at most Map concurrency of them.

    Existing endpoints are not counted: they are already deployed and the run creates nothing for them, nor are
    serverless candidates, which use no instances (their concurrency quota is per account and region).
    """
    benchmarks: Counter[str] = Counter()
    for spec in request.candidates:
        if spec.endpoint_name is None and not spec.is_serverless:
            benchmarks[spec.instance_type] += len(spec.variants())
    parallel = request.limits.max_parallel_candidates
    return {instance_type: min(count, parallel) for instance_type, count in benchmarks.items()}


def check_endpoint_quotas(request: RightsizingRequest, quotas: dict[str, float]) -> None:
    """Raise QuotaExceeded naming every short candidate, or InvalidRequest for a type without a quota entry.

    Instances already running in other endpoints also count against the quota; they are not subtracted here
    (no reliable usage figure), so CreateEndpoint can still hit ResourceLimitExceeded and the state machine's
    Retry/Catch handle that one candidate.
    """
    unknown: list[str] = []
    short: list[str] = []
    for instance_type, needed in sorted(instances_needed(request).items()):
        if instance_type not in quotas:
            unknown.append(instance_type)
        elif math.floor(quotas[instance_type]) < needed:
            short.append(f"'{quota_name(instance_type)}' is {quotas[instance_type]:g}, the run needs {needed}")
    if unknown:
        raise InvalidRequest(
            "candidates",
            f"no Service Quotas entry '<type>{ENDPOINT_USAGE_SUFFIX}' for "
            f"{', '.join(unknown)} in {request.region}: not offered for real-time endpoints there",
        )
    if short:
        raise QuotaExceeded(
            "account quota too low before anything was created: "
            + "; ".join(short)
            + f". Request an increase ({QUOTA_CONSOLE}) or lower limits.max_parallel_candidates."
        )
