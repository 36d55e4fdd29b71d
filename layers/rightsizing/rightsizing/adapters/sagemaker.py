"""SageMaker (control plane) calls made from Lambda: checking an existing endpoint before a run.

The create/describe/delete calls of a benchmark are made by the state machine itself (service integrations); this
adapter only reads. ``client`` is a ``sagemaker`` client (moto, a Stubber'd one, or the default).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.adapters.errors import error_code, error_message, translate
from rightsizing.exceptions import InvalidRequest

NOT_FOUND_MESSAGE = "Could not find"  # SageMaker answers a missing resource with ValidationException "Could not find …"


class SageMakerEndpoints:
    def __init__(self, client: Any = None, region: str | None = None) -> None:
        self._client = client if client is not None else aws_client("sagemaker", region)

    def check_existing(self, field: str, endpoint_name: str, instance_type: str) -> None:
        """An existing endpoint can be benchmarked: InService, one variant, one instance of ``instance_type``.

        One instance because results are per instance (the recommender sizes fleets from them); one variant because
        SageMaker would split the load across variants.
        """
        endpoint = self._describe("describe_endpoint", EndpointName=endpoint_name)
        if endpoint is None:
            raise InvalidRequest(field, f"no endpoint named '{endpoint_name}' in this region")
        status = endpoint.get("EndpointStatus")
        if status != "InService":
            raise InvalidRequest(field, f"endpoint '{endpoint_name}' is {status}, not InService")
        variants = endpoint.get("ProductionVariants", [])
        if len(variants) != 1 or variants[0].get("CurrentInstanceCount") != 1:
            counts = ", ".join(f"{v.get('VariantName')}: {v.get('CurrentInstanceCount')}" for v in variants)
            raise InvalidRequest(
                field,
                f"endpoint '{endpoint_name}' must have one variant on one instance to be "
                f"measured per instance (it has {counts or 'no variants'})",
            )
        config = self._describe("describe_endpoint_config", EndpointConfigName=endpoint["EndpointConfigName"])
        types = {v.get("InstanceType") for v in (config or {}).get("ProductionVariants", [])}
        if instance_type not in types:
            raise InvalidRequest(
                field, f"endpoint '{endpoint_name}' runs on {', '.join(map(str, types)) or '?'}, not {instance_type}"
            )

    def _describe(self, operation: str, **kwargs: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = getattr(self._client, operation)(**kwargs)
            return found
        except ClientError as e:
            if error_code(e) == "ValidationException" and NOT_FOUND_MESSAGE in error_message(e):
                return None
            translate(e, f"SageMaker {operation}")
