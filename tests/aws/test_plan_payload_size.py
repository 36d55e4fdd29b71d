"""The plan step reads payload files and archives from S3 by their size first: an object far above the limit is
refused from GetObject's ContentLength, before a byte of its body is read (a multi-GB object would otherwise fill
the function's memory). botocore Stubber: every call checked against the S3 API model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_plan_on_aws import AllowEverything

from rightsizing.adapters.aws_backend import AwsContainers
from rightsizing.adapters.s3 import S3Store, UriStore
from rightsizing.exceptions import InvalidRequest, ObjectTooLarge
from rightsizing.history_budget import HISTORY_EVENT_BUDGET
from rightsizing.models.request import MAX_ARCHIVE_BYTES, MAX_PAYLOAD_BYTES, RightsizingRequest
from rightsizing.ports import Backend
from rightsizing.pricing.snapshot import SnapshotPrices
from rightsizing.steps.plan import PlanInput, plan_run
from rightsizing.store import local_uri

BUCKET = "rightsizing-results-123456789012"


class Body:
    """A GetObject body that records whether it was read and closed."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = data
        self.reads: list[int | None] = []
        self.closed = False

    def read(self, amount: int | None = None) -> bytes:
        self.reads.append(amount)
        return self.data if amount is None else self.data[:amount]

    def close(self) -> None:
        self.closed = True


def _get(stubber: Any, key: str, length: int, body: Body) -> None:
    stubber.add_response("get_object", {"ContentLength": length, "Body": body}, {"Bucket": BUCKET, "Key": key})


def test_an_object_above_the_limit_is_refused_by_its_size_without_reading_it(stubbed: Callable[..., Any]) -> None:
    client, stubber = stubbed("s3")
    body = Body()
    _get(stubber, "payloads/huge.csv", 5 * 10**9, body)

    with pytest.raises(ObjectTooLarge, match=r"huge.csv is 5000\.0 MB, above the 6 MB this step reads"):
        S3Store(client).get_bytes(f"s3://{BUCKET}/payloads/huge.csv", max_bytes=MAX_PAYLOAD_BYTES)
    assert body.reads == [] and body.closed


def test_a_body_longer_than_its_header_said_is_cut_at_the_limit(stubbed: Callable[..., Any]) -> None:
    client, stubber = stubbed("s3")
    body = Body(b"x" * 100)
    _get(stubber, "payloads/liar.csv", 10, body)

    with pytest.raises(ObjectTooLarge, match=r"liar\.csv is 0\.0 MB, above the 0 MB"):
        S3Store(client).get_bytes(f"s3://{BUCKET}/payloads/liar.csv", max_bytes=50)
    assert body.reads == [51] and body.closed  # never more than one byte past the bound


def test_an_object_within_the_limit_is_read_whole(stubbed: Callable[..., Any]) -> None:
    client, stubber = stubbed("s3")
    _get(stubber, "payloads/row.csv", 7, Body(b"1.0,2.0"))
    assert S3Store(client).get_bytes(f"s3://{BUCKET}/payloads/row.csv", max_bytes=MAX_PAYLOAD_BYTES) == b"1.0,2.0"


def _plan(tmp_path: Path, request: RightsizingRequest, s3: Any) -> None:
    backend = Backend(
        mode="aws",
        prices=SnapshotPrices(),
        guard=AllowEverything(),
        containers=AwsContainers(),
        metrics=None,  # type: ignore[arg-type]
        store=UriStore(s3),
        default_poll_seconds=30,
        history_event_budget=HISTORY_EVENT_BUDGET,
    )
    event = PlanInput(request=request.model_dump(mode="json"), run_id="fraud-1", artifacts_uri=local_uri(tmp_path))
    plan_run(event, backend)


@pytest.mark.parametrize(
    ("field", "key", "length", "limit"),
    [
        ("payloads.files", "payloads/huge.csv", MAX_PAYLOAD_BYTES + 1, "InvokeEndpoint takes at most 6 MB"),
        ("payloads.archive", "payloads/huge.tar.gz", 4 * 10**9, f"at most {MAX_ARCHIVE_BYTES // 10**6} MB"),
    ],
)
def test_the_plan_step_refuses_a_payload_object_above_its_limit_before_reading_it(
    tmp_path: Path,
    stubbed: Callable[..., Any],
    aws_request: Callable[..., RightsizingRequest],
    field: str,
    key: str,
    length: int,
    limit: str,
) -> None:
    client, stubber = stubbed("s3")
    body = Body()
    _get(stubber, key, length, body)
    where = "files" if field == "payloads.files" else "archive"
    uri = f"s3://{BUCKET}/{key}"
    payloads = {"files": [uri]} if where == "files" else {"archive": uri}
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads=payloads)

    with pytest.raises(InvalidRequest) as refused:
        _plan(tmp_path, request, client)

    assert refused.value.fields == (field,)
    assert f"{uri} is {length / 1e6:.1f} MB" in str(refused.value) and limit in str(refused.value)
    assert body.reads == [] and body.closed
    assert not list(tmp_path.iterdir())  # refused before anything of the run was written
