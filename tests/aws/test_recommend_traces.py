"""A candidate without a readable trace.json must not fail the Recommend step (and with it the whole run).

S3 answers HeadObject on a missing key with 404 only when the caller may ``s3:ListBucket``; without it, 403. moto
does not enforce IAM, so ``s3_without_list`` makes HeadObject answer as S3 does for a role that cannot list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from conftest import FakeLambdaContext, function_event, load_handler
from moto import mock_aws

from rightsizing.adapters import aws_backend
from rightsizing.pricing.snapshot import SnapshotPrices

BUCKET = "rightsizing-results-test"


def _event() -> dict[str, Any]:
    text = json.dumps(function_event("recommend")).replace("s3://REPLACE-WITH-RESULTS-BUCKET", f"s3://{BUCKET}")
    return json.loads(text)


@pytest.fixture
def s3_without_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(aws_backend, "price_list_with_fallback", SnapshotPrices)
    with mock_aws():
        boto3.setup_default_session()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        keys = lambda: {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}  # noqa: E731

        def remember_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["head_key"] = params["Key"]

        def forbidden_when_missing(context: dict[str, Any], **_: Any) -> Any:
            if context["head_key"] in keys():
                return None
            response = AWSResponse(url="", status_code=403, headers={}, raw=None)
            return response, {"Error": {"Code": "403", "Message": "Forbidden"}, "ResponseMetadata": {}}

        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        events.register("before-parameter-build.s3.HeadObject", remember_key)
        events.register("before-call.s3.HeadObject", forbidden_when_missing)
        yield s3
        boto3.DEFAULT_SESSION = None


def test_recommend_survives_a_trace_it_may_not_read(s3_without_list: Any, lambda_context: FakeLambdaContext) -> None:
    event = _event()
    run = f"runs/{event['run_id']}"
    plan_request = json.loads(json.dumps(function_event("plan")["request"]))
    s3_without_list.put_object(Bucket=BUCKET, Key=f"{run}/request.json", Body=json.dumps(plan_request))
    # c01 ran its load test; c02 failed before it (quota), so it has no trace: S3 says 403, not 404.
    s3_without_list.put_object(Bucket=BUCKET, Key=f"{run}/candidates/c01-ml-c5-xlarge/trace.json", Body="[]")

    summary = load_handler("recommend").lambda_handler(event, lambda_context)["summary"]

    assert summary["recommended"] and summary["instance_type"] == "ml.c5.xlarge"
    result = json.loads(s3_without_list.get_object(Bucket=BUCKET, Key=f"{run}/result.json")["Body"].read())
    notes = [n for n in result["notes"] if "c02-ml-m5-xlarge" in n]
    assert notes and "could not be read" in notes[0] and "403" in notes[0]
    assert s3_without_list.head_object(Bucket=BUCKET, Key=f"{run}/report.html")["ContentLength"] > 0
