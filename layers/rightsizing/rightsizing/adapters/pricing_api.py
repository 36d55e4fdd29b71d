"""Real-time hosting prices from the AWS Price List API, with the bundled snapshot as the fallback.

The Price List query endpoint lives in a few regions only; the priced region is a *filter*, so every call goes to
us-east-1 whatever region is being priced. Several SKUs can match one instance (capacity blocks at $0, other
components): only Hosting, per-hour, non-zero on-demand prices count, and anything still ambiguous fails loudly.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.exceptions import AmbiguousPrice, PriceNotFound, RightsizingError
from rightsizing.models.price import PriceQuote
from rightsizing.models.serverless import is_serverless
from rightsizing.ports import PriceSource
from rightsizing.pricing.snapshot import SnapshotPrices

PRICING_API_REGION = "us-east-1"
SERVICE_CODE = "AmazonSageMaker"
# ClientError codes that mean "cannot use the API here", not "the API has no such price".
UNAVAILABLE_CODES = {
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "ThrottlingException",
    "InternalErrorException",
    "ServiceUnavailable",
}


class PriceListUnavailable(RightsizingError):
    """The Price List API could not be asked (no network, no credentials, access denied, throttled)."""


def product_filters(instance_type: str, region: str) -> list[dict[str, str]]:
    terms = {
        "productFamily": "ML Instance",
        "component": "Hosting",
        "instanceName": instance_type,  # instanceType is not reliably the bare name
        "regionCode": region,
    }
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in terms.items()]


def hosting_hourly_prices(
    items: list[str | dict[str, Any]], instance_type: str, region: str
) -> dict[str, tuple[float, str]]:
    """SKU -> (USD per hour, publication date) of the on-demand Hosting prices among GetProducts items."""
    found: dict[str, tuple[float, str]] = {}
    for raw in items:
        item = json.loads(raw) if isinstance(raw, str) else raw  # each PriceList entry is a JSON string
        product = item.get("product", {})
        attributes = product.get("attributes", {})
        if (attributes.get("component"), attributes.get("instanceName"), attributes.get("regionCode")) != (
            "Hosting",
            instance_type,
            region,
        ):
            continue
        for term in item.get("terms", {}).get("OnDemand", {}).values():
            for rate_code, dimension in term.get("priceDimensions", {}).items():
                usd = float(dimension.get("pricePerUnit", {}).get("USD", "0") or 0)
                if dimension.get("unit") == "Hrs" and usd > 0:
                    found[rate_code] = (usd, str(item.get("publicationDate", ""))[:10])
    return found


class PriceListPrices:
    """PriceSource over GetProducts; one query per (instance type, region) per instance of this class (= per run)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._cache: dict[tuple[str, str], PriceQuote] = {}

    def hourly_price(self, instance_type: str, region: str) -> PriceQuote:
        key = (instance_type, region)
        if key not in self._cache:
            self._cache[key] = self._query(instance_type, region)
        return self._cache[key]

    def _query(self, instance_type: str, region: str) -> PriceQuote:
        prices = hosting_hourly_prices(self._products(instance_type, region), instance_type, region)
        if not prices:
            raise PriceNotFound(f"the Price List API has no on-demand Hosting price for {instance_type} in {region}")
        distinct = {usd for usd, _ in prices.values()}
        if len(distinct) > 1:
            listed = ", ".join(f"{code}: ${usd}" for code, (usd, _) in sorted(prices.items()))
            raise AmbiguousPrice(
                f"the Price List API has {len(distinct)} Hosting prices for {instance_type} in "
                f"{region}; refusing to guess ({listed})"
            )
        published = max(date for _, date in prices.values()) or "undated"
        return PriceQuote(
            instance_type=instance_type,
            region=region,
            usd_per_hour=distinct.pop(),
            source=f"AWS Price List API (on-demand, Hosting, published {published})",
        )

    def _products(self, instance_type: str, region: str) -> list[str | dict[str, Any]]:
        try:
            paginator = self._pricing().get_paginator("get_products")
            pages = paginator.paginate(ServiceCode=SERVICE_CODE, Filters=product_filters(instance_type, region))
            return [item for page in pages for item in page.get("PriceList", [])]
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in UNAVAILABLE_CODES:
                raise PriceListUnavailable(f"Price List API unavailable ({code})") from e
            raise PriceNotFound(f"Price List API refused the query for {instance_type} in {region}: {code}") from e
        except BotoCoreError as e:  # EndpointConnectionError, NoCredentialsError, ConnectTimeout, ...
            raise PriceListUnavailable(f"Price List API unreachable ({type(e).__name__})") from e

    def _pricing(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            # Fail fast offline: the fallback snapshot is better than a Lambda waiting out retries.
            config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})
            self._client = aws_client("pricing", PRICING_API_REGION, config=config)
        return self._client


class FallbackPrices:
    """Ask the API; when it cannot be asked, price from the bundled snapshot and say so in the quote's source.

    A definite answer from the API (no such price, ambiguous) is never papered over with the snapshot.
    """

    def __init__(self, primary: PriceSource, fallback: PriceSource) -> None:
        self._primary = primary
        self._fallback = fallback
        self.unavailable_reason: str | None = None  # remembered: one timeout per run, not one per candidate

    def hourly_price(self, instance_type: str, region: str) -> PriceQuote:
        if is_serverless(instance_type):
            # This adapter queries ML Instance Hosting products only; serverless prices come from the snapshot.
            return self._fallback.hourly_price(instance_type, region)
        if self.unavailable_reason is None:
            try:
                return self._primary.hourly_price(instance_type, region)
            except PriceListUnavailable as e:
                self.unavailable_reason = str(e)
        quote = self._fallback.hourly_price(instance_type, region)
        return quote.model_copy(update={"source": f"{quote.source}; fallback: {self.unavailable_reason}"})


def price_list_with_fallback(client: Any = None) -> FallbackPrices:
    """The AWS backend's PriceSource: Price List API first, bundled snapshot when it is unreachable."""
    return FallbackPrices(PriceListPrices(client=client), SnapshotPrices())
