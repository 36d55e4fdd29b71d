"""Every sample in events/: StartExecution inputs validate as requests, function events as their steps' inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import FUNCTION_EVENTS, REPO

from rightsizing.models.automation import ModelPackageStateChange, ScheduledRunEvent
from rightsizing.models.request import RightsizingRequest, parse_request
from rightsizing.steps.collect import CollectInput
from rightsizing.steps.plan import PlanInput
from rightsizing.steps.recommend import RecommendInput
from rightsizing.steps.run_failed import RunFailedInput
from rightsizing.steps.sweep import SweepInput

REQUESTS = sorted((REPO / "events").glob("*.json"))
STEP_INPUTS = {
    "plan": PlanInput,
    "collect_metrics": CollectInput,
    "recommend": RecommendInput,
    "cleanup": SweepInput,
    "start_scheduled_run": ScheduledRunEvent,
    "start_registry_run": ModelPackageStateChange,
    "run_failed": RunFailedInput,
}


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


USER_DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
def test_every_request_event_is_named_in_the_user_docs(path: Path) -> None:
    # A sample request that no page names is one no user will find.
    assert any(f"events/{path.name}" in doc.read_text() for doc in USER_DOCS), f"no page names events/{path.name}"


def test_every_event_the_user_docs_name_exists() -> None:
    named = {name for doc in USER_DOCS for name in re.findall(r"events/[\w./-]+\.json", doc.read_text())}
    missing = sorted(name for name in named if not (REPO / name).is_file())
    assert named and not missing, f"the docs name files that do not exist: {missing}"
