"""Price List API adapter (botocore Stubber, no network) and the snapshot fallback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from rightsizing.adapters.pricing_api import (
    FallbackPrices,
    PriceListPrices,
    price_list_with_fallback,
    product_filters,
)
from rightsizing.exceptions import AmbiguousPrice, PriceNotFound
from rightsizing.pricing import SnapshotPrices


def _item(
    usd: str = "0.7360000000",
    instance: str = "ml.g4dn.xlarge",
    component: str = "Hosting",
    unit: str = "Hrs",
    sku: str = "SKU1",
    region: str = "us-east-1",
) -> str:
    """One GetProducts PriceList entry: a JSON *string*, as the API returns it."""
    rate = f"{sku}.JRTCKXETXF.6YS6EN2CT7"
    return json.dumps(
        {
            "product": {
                "productFamily": "ML Instance",
                "sku": sku,
                "attributes": {"instanceName": instance, "regionCode": region, "component": component},
            },
            "serviceCode": "AmazonSageMaker",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            rate: {"unit": unit, "pricePerUnit": {"USD": usd}, "rateCode": rate},
                        }
                    }
                }
            },
            "publicationDate": "2026-03-02T18:21:09Z",
        }
    )


@pytest.fixture
def pricing(stubbed: Callable[..., tuple[Any, Stubber]]) -> Callable[..., Any]:
    """``pricing(page, …)``: a Price List client that answers GetProducts with these pages, in order."""

    def make(*pages: list[str], instance: str = "ml.g4dn.xlarge", region: str = "us-east-1") -> Any:
        client, stubber = stubbed("pricing")
        for index, page in enumerate(pages):
            expected: dict[str, Any] = {"ServiceCode": "AmazonSageMaker", "Filters": product_filters(instance, region)}
            response: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": page}
            if index:
                expected["NextToken"] = f"page-{index}"
            if index < len(pages) - 1:
                response["NextToken"] = f"page-{index + 1}"
            stubber.add_response("get_products", response, expected)
        return client

    return make


class _Unreachable:
    """A client whose every call fails below the API (no network, no credentials)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def get_paginator(self, name: str) -> Any:
        self.calls += 1
        raise self.error


def test_filters_select_real_time_hosting_of_one_instance_in_one_region() -> None:
    filters = {f["Field"]: f["Value"] for f in product_filters("ml.m5.xlarge", "eu-west-1")}
    assert filters == {
        "productFamily": "ML Instance",
        "component": "Hosting",
        "instanceName": "ml.m5.xlarge",
        "regionCode": "eu-west-1",
    }
    assert {f["Type"] for f in product_filters("ml.m5.xlarge", "eu-west-1")} == {"TERM_MATCH"}


def test_api_price_is_read_across_pages_ignoring_zero_and_other_components(pricing: Callable[..., Any]) -> None:
    client = pricing(
        [_item(usd="0.0000000000", sku="CAPACITYBLOCK"), _item(component="Training", usd="0.94", sku="TRAIN")],
        [_item(sku="HOST"), _item(unit="Quantity", usd="5", sku="OTHERUNIT")],
    )
    quote = PriceListPrices(client=client).hourly_price("ml.g4dn.xlarge", "us-east-1")
    assert quote.usd_per_hour == pytest.approx(0.736)
    assert quote.region == "us-east-1"
    assert quote.source == "AWS Price List API (on-demand, Hosting, published 2026-03-02)"


def test_api_prices_are_cached_for_the_run(pricing: Callable[..., Any]) -> None:
    client = pricing([_item()])  # one response: a second query would fail the stub
    prices = PriceListPrices(client=client)
    first = prices.hourly_price("ml.g4dn.xlarge", "us-east-1")
    assert prices.hourly_price("ml.g4dn.xlarge", "us-east-1") == first


def test_ambiguous_api_prices_fail_loudly(pricing: Callable[..., Any]) -> None:
    client = pricing([_item(sku="A", usd="0.736"), _item(sku="B", usd="0.81")])
    with pytest.raises(AmbiguousPrice, match="refusing to guess"):
        PriceListPrices(client=client).hourly_price("ml.g4dn.xlarge", "us-east-1")


def test_duplicate_skus_with_one_price_are_not_ambiguous(pricing: Callable[..., Any]) -> None:
    client = pricing([_item(sku="A"), _item(sku="B")])
    assert PriceListPrices(client=client).hourly_price("ml.g4dn.xlarge", "us-east-1").usd_per_hour == 0.736


def test_no_api_price_is_price_not_found(pricing: Callable[..., Any]) -> None:
    client = pricing([_item(usd="0.0", instance="ml.zz9.large")], instance="ml.zz9.large")
    with pytest.raises(PriceNotFound, match=r"no on-demand Hosting price for ml\.zz9\.large"):
        PriceListPrices(client=client).hourly_price("ml.zz9.large", "us-east-1")


def test_other_regions_are_priced_through_the_us_east_1_endpoint(
    pricing: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The adapter makes its own client: record the region it asks for, and answer through the stub.
    client = pricing([_item(region="eu-west-1", usd="0.821")], region="eu-west-1")
    asked: list[tuple[str, str | None]] = []

    def make_client(service: str, region_name: str | None = None, **_: Any) -> Any:
        asked.append((service, region_name))
        return client

    monkeypatch.setattr(boto3, "client", make_client)
    quote = PriceListPrices().hourly_price("ml.g4dn.xlarge", "eu-west-1")
    assert (quote.region, quote.usd_per_hour) == ("eu-west-1", 0.821)
    assert asked == [("pricing", "us-east-1")]


def test_access_denied_falls_back_to_the_snapshot_and_says_so(stubbed: Callable[..., tuple[Any, Stubber]]) -> None:
    client, stubber = stubbed("pricing")
    stubber.add_client_error("get_products", service_error_code="AccessDeniedException", http_status_code=403)
    quote = FallbackPrices(PriceListPrices(client=client), SnapshotPrices()).hourly_price("ml.g4dn.xlarge", "us-east-1")
    assert quote.usd_per_hour == pytest.approx(0.736)
    assert "bundled AWS Price List snapshot (2026" in quote.source
    assert "fallback: Price List API unavailable (AccessDeniedException)" in quote.source


@pytest.mark.parametrize(
    "error", [NoCredentialsError(), EndpointConnectionError(endpoint_url="https://api.pricing.us-east-1.amazonaws.com")]
)
def test_unreachable_api_falls_back_once_per_run(error: Exception) -> None:
    client = _Unreachable(error)
    prices = price_list_with_fallback(client=client)
    first = prices.hourly_price("ml.g4dn.xlarge", "us-east-1")
    second = prices.hourly_price("ml.c5.large", "us-east-1")
    assert (first.usd_per_hour, second.usd_per_hour) == (pytest.approx(0.736), pytest.approx(0.102))
    assert f"Price List API unreachable ({type(error).__name__})" in second.source
    assert client.calls == 1  # remembered: no second timeout


def test_a_definite_api_answer_is_not_papered_over_by_the_snapshot(pricing: Callable[..., Any]) -> None:
    client = pricing([_item(sku="A", usd="0.736"), _item(sku="B", usd="0.81")])
    with pytest.raises(AmbiguousPrice):
        price_list_with_fallback(client=client).hourly_price("ml.g4dn.xlarge", "us-east-1")


def test_fallback_without_a_snapshot_price_is_price_not_found() -> None:
    prices = price_list_with_fallback(client=_Unreachable(NoCredentialsError()))
    with pytest.raises(PriceNotFound, match="eu-west-1"):
        prices.hourly_price("ml.c5.large", "eu-west-1")
