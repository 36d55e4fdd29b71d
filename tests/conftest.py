"""Shared test helpers: sample events are loaded from events/ by one function."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

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
