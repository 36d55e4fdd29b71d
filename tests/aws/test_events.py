"""Every sample in events/: StartExecution inputs validate as requests, function events as their steps' inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FUNCTION_EVENTS, REPO

from rightsizing.models.request import RightsizingRequest, parse_request
from rightsizing.steps.collect import CollectInput
from rightsizing.steps.plan import PlanInput
from rightsizing.steps.recommend import RecommendInput
from rightsizing.steps.sweep import SweepInput

REQUESTS = sorted((REPO / "events").glob("*.json"))
STEP_INPUTS = {"plan": PlanInput, "collect_metrics": CollectInput, "recommend": RecommendInput, "cleanup": SweepInput}


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
def test_every_request_event_is_a_valid_request(path: Path) -> None:
    document = json.loads(path.read_text())
    request = RightsizingRequest.model_validate(document, context={"base_dir": path.parent})
    assert request.candidates


@pytest.mark.parametrize("path", [p for p in REQUESTS if p.name.startswith("aws-")], ids=lambda p: p.name)
def test_aws_request_events_need_no_local_files(path: Path) -> None:
    # A StartExecution input is read by the plan Lambda: payloads must be inline (or s3:// URIs).
    request = parse_request(json.loads(path.read_text()))
    assert not request.is_local and all(f.startswith("s3://") for f in request.payloads.files)


@pytest.mark.parametrize("name", sorted(STEP_INPUTS))
def test_every_function_event_parses_as_its_step_input(name: str) -> None:
    event = json.loads((FUNCTION_EVENTS / f"{name}.json").read_text())
    STEP_INPUTS[name].model_validate(event)


def test_aws_scenarios_cover_the_documented_instance_families() -> None:
    families = {
        path.name: {c["instance_type"].split(".")[1] for c in json.loads(path.read_text())["candidates"]}
        for path in REQUESTS
    }
    assert families["aws-image-classification.json"] == {"c5", "m5", "p2", "p3", "g4dn"}
    assert families["aws-fraud-tabular.json"] == {"c5", "m5", "c6i", "c7g", "r5"}
    fraud = json.loads((REPO / "events" / "aws-fraud-tabular.json").read_text())
    assert fraud["traffic"]["min_rps"] == 500 and fraud["sla"] == {"percentile": "p95", "milliseconds": 100}
