"""The Price List API has no price for an instance type (an empty PriceList): the Recommend step (its Lambda
handler, on the AWS backend) still recommends from the priced candidates and says which one had no price and why;
with no price at all it says why there is no recommendation. Never a crash (a failed run)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import FakeLambdaContext, function_event, load_handler
from moto import mock_aws

from rightsizing.adapters import aws_backend
from rightsizing.adapters.pricing_api import price_list_with_fallback, product_filters

BUCKET = "rightsizing-results-test"
MEASURED_M5 = {"status": "succeeded", "sustainable_rps": 180.0, "saturation_rps": 200.0, "failure_reason": None}


def hosting_price(instance: str, usd: str) -> str:
    """One GetProducts PriceList entry (a JSON string, as the API returns it)."""
    rate = "SKU1.JRTCKXETXF.6YS6EN2CT7"
    return json.dumps(
        {
            "product": {
                "productFamily": "ML Instance",
                "sku": "SKU1",
                "attributes": {"instanceName": instance, "regionCode": "us-east-1", "component": "Hosting"},
            },
            "terms": {
                "OnDemand": {
                    "SKU1.JRTCKXETXF": {"priceDimensions": {rate: {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}
                }
            },
            "publicationDate": "2026-03-02T18:21:09Z",
        }
    )


@pytest.fixture
def results_bucket() -> Iterator[Any]:
    with mock_aws():
        boto3.setup_default_session()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3
        boto3.DEFAULT_SESSION = None


def recommend(
    s3: Any, stubbed: Callable[..., tuple[Any, Stubber]], monkeypatch: pytest.MonkeyPatch, prices: dict[str, list[str]]
) -> dict[str, Any]:
    """Both candidates measured; the Price List API answers each instance type with ``prices[type]``."""
    client, stubber = stubbed("pricing")
    for instance, page in prices.items():
        expected = {"ServiceCode": "AmazonSageMaker", "Filters": product_filters(instance, "us-east-1")}
        stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": page}, expected)
    monkeypatch.setattr(aws_backend, "price_list_with_fallback", lambda: price_list_with_fallback(client))
    event = json.loads(
        json.dumps(function_event("recommend")).replace("s3://REPLACE-WITH-RESULTS-BUCKET", f"s3://{BUCKET}")
    )
    second = event["outcomes"][1]["outcome"]
    second.update(copy.deepcopy(MEASURED_M5), latency_ms={"p50": 20.0, "p90": 40.0, "p95": 60.0, "p99": 90.0})
    run = f"runs/{event['run_id']}"
    s3.put_object(Bucket=BUCKET, Key=f"{run}/request.json", Body=json.dumps(function_event("plan")["request"]))
    summary = load_handler("recommend").lambda_handler(event, FakeLambdaContext())["summary"]
    result = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{run}/result.json")["Body"].read())
    return {"summary": summary, "result": result}


def test_an_unpriced_type_is_explained_and_the_others_still_recommended(
    results_bucket: Any, stubbed: Callable[..., tuple[Any, Stubber]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = recommend(
        results_bucket,
        stubbed,
        monkeypatch,
        {"ml.c5.xlarge": [hosting_price("ml.c5.xlarge", "0.2380000000")], "ml.m5.xlarge": []},
    )

    assert out["summary"]["recommended"] and out["summary"]["instance_type"] == "ml.c5.xlarge"
    assert out["result"]["price_errors"] == {
        "c02-ml-m5-xlarge": "the Price List API has no on-demand Hosting price for ml.m5.xlarge in us-east-1"
    }
    assert out["result"]["prices"]["c01-ml-c5-xlarge"]["usd_per_hour"] == 0.238


def test_no_price_at_all_says_why_there_is_no_recommendation(
    results_bucket: Any, stubbed: Callable[..., tuple[Any, Stubber]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = recommend(results_bucket, stubbed, monkeypatch, {"ml.c5.xlarge": [], "ml.m5.xlarge": []})

    assert not out["summary"]["recommended"]
    assert "price" in out["summary"]["message"].lower(), out["summary"]["message"]
    assert set(out["result"]["price_errors"]) == {"c01-ml-c5-xlarge", "c02-ml-m5-xlarge"}
