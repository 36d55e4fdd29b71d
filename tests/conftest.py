"""Shared test helpers: the sample events, a minimal AWS request, and botocore clients under a Stubber."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rightsizing.models.request import RightsizingRequest

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def events_dir() -> Path:
    return EVENTS


@pytest.fixture
def demo_request() -> dict[str, Any]:
    """The local demo request with its payload file made absolute (as the CLI does on load)."""
    document = copy.deepcopy(load_event("local-demo.json"))
    document["payloads"]["files"] = [str(EVENTS / f) for f in document["payloads"]["files"]]
    return document


@pytest.fixture
def fast_request(demo_request: dict[str, Any]) -> dict[str, Any]:
    """The demo, bounded for tests: short load steps, few users, one candidate at a time."""
    demo_request["load"] = {"mode": "stepped", "step_seconds": 1, "max_users": 4}
    demo_request["limits"] = {"max_seconds_per_candidate": 12, "max_parallel_candidates": 2}
    return demo_request


@pytest.fixture
def aws_request() -> Callable[..., RightsizingRequest]:
    """``aws_request(candidates, **fields)``: the smallest valid AWS request (a container model, 10 RPS, p95 100 ms)
    over ``candidates``, with any top-level field replaced."""

    def make(candidates: list[dict[str, Any]], **fields: Any) -> RightsizingRequest:
        document = {
            "model": {"type": "container", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
            "candidates": candidates,
            "traffic": {"min_rps": 10},
            "sla": {"milliseconds": 100},
            "payloads": {"samples": ["1,2,3"]},
            **fields,
        }
        return RightsizingRequest.model_validate(document)

    return make


@pytest.fixture
def stubbed() -> Iterator[Callable[..., tuple[Any, Stubber]]]:
    """``stubbed("ecs")``: a real botocore client (dummy credentials, no network) and its active Stubber, which
    checks every call against the service's API model. Every response a test queues must be used by its end."""
    stubbers: list[Stubber] = []

    def make(service: str, region: str = "us-east-1") -> tuple[Any, Stubber]:
        client = boto3.client(service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return client, stubber

    yield make
    for stubber in stubbers:
        stubber.deactivate()
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
