"""Every adapter's default client comes from ``rightsizing.adapters.clients``: one retry policy, one user agent."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config

from rightsizing import __version__
from rightsizing.adapters.clients import MAX_ATTEMPTS, aws_client
from rightsizing.adapters.cloudwatch import CloudWatchEndpointMetrics
from rightsizing.adapters.ecs import EcsTasks
from rightsizing.adapters.pricing_api import PriceListPrices
from rightsizing.adapters.s3 import S3Store
from rightsizing.adapters.sagemaker import SageMakerEndpoints
from rightsizing.adapters.service_quotas import ServiceQuotas
from rightsizing.adapters.sweep import RunSweeper


def _shared_config(client: Any) -> bool:
    config = client.meta.config
    return config.retries.get("mode") == "standard" and f"sagemaker-rightsizing/{__version__}" in (
        config.user_agent_extra or ""
    )


def test_a_client_retries_in_standard_mode_and_names_the_service_in_its_user_agent() -> None:
    client = aws_client("sagemaker", "eu-west-1")

    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
    assert client.meta.config.user_agent_extra == f"sagemaker-rightsizing/{__version__}"


def test_overrides_are_merged_over_the_shared_config() -> None:
    # max_attempts counts retries: botocore keeps total_max_attempts, the first call included
    client = aws_client("pricing", config=Config(connect_timeout=5, retries={"mode": "standard", "max_attempts": 2}))

    assert client.meta.config.connect_timeout == 5 and client.meta.config.retries["total_max_attempts"] == 3
    assert _shared_config(client)


@pytest.mark.parametrize(
    "client_of",
    [
        lambda: CloudWatchEndpointMetrics(region="us-east-1")._client,
        lambda: S3Store()._s3,
        lambda: SageMakerEndpoints(region="us-east-1")._client,
        lambda: ServiceQuotas(region="us-east-1")._client,
        lambda: PriceListPrices()._pricing(),
        lambda: RunSweeper(region="us-east-1")._client,
        lambda: EcsTasks("cluster", region="us-east-1")._client,
    ],
    ids=["cloudwatch", "s3", "sagemaker", "service-quotas", "pricing", "sweeper", "ecs"],
)
def test_every_adapter_makes_its_default_client_with_the_shared_config(client_of: Any) -> None:
    assert _shared_config(client_of())
