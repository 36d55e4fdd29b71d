"""`rightsize start` inlines local payloads (the plan Lambda cannot read this machine's files): binary files and a
local archive's members become base64 samples, and the plan step then reads the very same bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.request import RightsizingRequest
from rightsizing.payload_bodies import collect_bodies
from rightsizing_cli.run_names import execution_input

IMAGES = Path(__file__).resolve().parents[2] / "events" / "payloads" / "images"


def _bytes(request: RightsizingRequest) -> list[bytes]:
    def read(name: str) -> bytes | None:
        return None if name.startswith("s3://") else Path(name).read_bytes()

    return [body.data for body in collect_bodies(request.payloads, read)]


def test_local_images_and_archive_are_inlined_as_the_same_bytes(aws_request: Callable[..., Any]) -> None:
    payloads = {
        "content_type": "image/png",
        "files": [str(IMAGES / "disc.png"), "s3://bucket/payloads/cat.png"],
        "archive": str(IMAGES / "shapes.tar.gz"),
    }
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads=payloads)

    sent = RightsizingRequest.model_validate(json.loads(execution_input(request)))

    assert sent.payloads.files == ["s3://bucket/payloads/cat.png"]  # a reference stays a reference
    assert sent.payloads.archive is None and sent.payloads.samples == []
    assert _bytes(sent) == _bytes(request)  # disc.png, then the archive's two members
    assert len(sent.payloads.samples_base64) == 3


def test_an_archive_in_s3_stays_a_reference(aws_request: Callable[..., Any]) -> None:
    payloads = {"content_type": "image/png", "archive": "s3://bucket/payloads/samples.tar.gz"}
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads=payloads)
    sent = json.loads(execution_input(request))
    assert sent["payloads"]["archive"] == "s3://bucket/payloads/samples.tar.gz"
    assert sent["payloads"]["samples_base64"] == []


def test_a_binary_file_under_a_text_type_is_refused(aws_request: Callable[..., Any]) -> None:
    payloads = {"content_type": "text/csv", "files": [str(IMAGES / "disc.png")]}
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads=payloads)
    with pytest.raises(InvalidRequest, match=r"payloads\.files: .*disc\.png is not UTF-8 text, but text/csv"):
        execution_input(request)
