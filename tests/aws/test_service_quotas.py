"""Service Quotas adapter and the quota check, with botocore's Stubber (exact API shapes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from rightsizing.adapters.service_quotas import ServiceQuotas, check_endpoint_quotas, instances_needed
from rightsizing.exceptions import AwsAccessDenied, AwsThrottled, InvalidRequest, QuotaExceeded
from rightsizing.models.request import RightsizingRequest

Stubbed = Callable[..., tuple[Any, Stubber]]  # the `stubbed` fixture (tests/conftest.py)
MakeRequest = Callable[..., RightsizingRequest]  # the `aws_request` fixture


def _quota(instance_type: str, value: float) -> dict[str, Any]:
    name = f"{instance_type} for endpoint usage"
    return {"ServiceCode": "sagemaker", "QuotaName": name, "QuotaCode": "L-1", "Value": value}


def test_applied_quotas_override_defaults_across_pages(stubbed: Stubbed) -> None:
    client, stub = stubbed("service-quotas")
    stub.add_response(
        "list_aws_default_service_quotas",
        {"Quotas": [_quota("ml.m5.xlarge", 0), _quota("ml.c5.xlarge", 2)]},
        {"ServiceCode": "sagemaker"},
    )
    stub.add_response(
        "list_service_quotas",
        {"Quotas": [_quota("ml.m5.xlarge", 4)], "NextToken": "t1"},
        {"ServiceCode": "sagemaker"},
    )
    stub.add_response(
        "list_service_quotas",
        {"Quotas": [{**_quota("ml.g4dn.xlarge", 1), "QuotaName": "ml.g4dn.xlarge for training job usage"}]},
        {"ServiceCode": "sagemaker", "NextToken": "t1"},
    )
    quotas = ServiceQuotas(client=client).endpoint_usage_quotas()
    assert quotas == {"ml.m5.xlarge": 4.0, "ml.c5.xlarge": 2.0}  # training quotas are not endpoint quotas


@pytest.mark.parametrize(
    ("code", "expected"),
    [("TooManyRequestsException", AwsThrottled), ("AccessDeniedException", AwsAccessDenied)],
)
def test_quota_errors_become_domain_exceptions(code: str, expected: type[Exception], stubbed: Stubbed) -> None:
    client, stub = stubbed("service-quotas")
    stub.add_client_error("list_aws_default_service_quotas", service_error_code=code, service_message="no")
    with pytest.raises(expected):
        ServiceQuotas(client=client).endpoint_usage_quotas()


def test_instances_needed_counts_grid_variants_up_to_map_concurrency(aws_request: MakeRequest) -> None:
    request = aws_request(
        [
            {"instance_type": "ml.c5.xlarge", "environment_grid": {"OMP_NUM_THREADS": ["1", "2", "4"]}},
            {"instance_type": "ml.m5.xlarge"},
            {"instance_type": "ml.r5.xlarge", "endpoint_name": "prod"},
        ],
        limits={"max_parallel_candidates": 2},
    )
    assert instances_needed(request) == {"ml.c5.xlarge": 2, "ml.m5.xlarge": 1}  # existing endpoint: nothing new


def test_quota_check_passes_when_every_type_fits(aws_request: MakeRequest) -> None:
    check_endpoint_quotas(aws_request([{"instance_type": "ml.c5.xlarge"}]), {"ml.c5.xlarge": 1.0})


def test_quota_check_names_every_short_type_before_anything_is_created(aws_request: MakeRequest) -> None:
    request = aws_request([{"instance_type": "ml.c5.xlarge"}, {"instance_type": "ml.g4dn.xlarge"}])
    with pytest.raises(QuotaExceeded) as error:
        check_endpoint_quotas(request, {"ml.c5.xlarge": 0.0, "ml.g4dn.xlarge": 0.0})
    message = str(error.value)
    assert "'ml.c5.xlarge for endpoint usage' is 0, the run needs 1" in message
    assert "'ml.g4dn.xlarge for endpoint usage' is 0" in message and "servicequotas" in message


def test_quota_check_refuses_a_type_without_a_quota_entry(aws_request: MakeRequest) -> None:
    with pytest.raises(InvalidRequest, match=r"ml\.c7g\.xlarge"):
        check_endpoint_quotas(aws_request([{"instance_type": "ml.c7g.xlarge"}]), {"ml.c5.xlarge": 4.0})
