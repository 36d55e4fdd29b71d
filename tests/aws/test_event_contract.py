"""The events are a contract: each has a versioned JSON Schema in schema/events/ and a sample in events/eventbridge/;
the samples and what the code emits validate against the schemas, and the documented rule patterns match them
(moto's EventBridge pattern matcher: moto does not answer TestEventPattern)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO, function_event
from iam_template import deployed_template
from moto.events.models import EventPattern

from rightsizing.models.events import EVENT_MODELS, PutEventsEntry
from rightsizing.ports import Backend
from rightsizing.pricing import SnapshotPrices
from rightsizing.run_events import ExecutionStatusChange, failed_entry
from rightsizing.steps.recommend import RecommendInput, recommend_run
from rightsizing.store import LocalStore, local_uri, put_json
from rightsizing_local.history import JsonLinesHistory

SCHEMAS = REPO / "schema" / "events"
SAMPLES = REPO / "events" / "eventbridge"
DOC = REPO / "docs" / "aws-stack.md"


def _schema(stem: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{stem}.schema.json").read_text())


def _validate(event: dict[str, Any]) -> None:
    stem = next(
        s for s, model in EVENT_MODELS.items() if model.model_fields["detail_type"].default == event["detail-type"]
    )
    jsonschema.validate(event, _schema(stem), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _delivered(entry: PutEventsEntry, resources: list[str] | None = None) -> dict[str, Any]:
    """The entry as a rule's target receives it: EventBridge's envelope around the detail."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry.DetailType,
        "source": entry.Source,
        "account": "123456789012",
        "time": "2026-03-08T12:41:08Z",
        "region": "us-east-1",
        "resources": [*entry.Resources, *(resources or [])],
        "detail": json.loads(json.dumps(entry.Detail)),
    }


def test_every_event_has_a_versioned_schema_and_a_sample() -> None:
    stems = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert stems == set(EVENT_MODELS) and all(re.fullmatch(r"[a-z-]+\.v\d+", s) for s in stems)
    samples = {p.stem for p in SAMPLES.glob("*.json")}
    assert samples == {s.rsplit(".v", 1)[0] for s in stems}


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_sample_validates_against_its_schema(path: Path) -> None:
    _validate(json.loads(path.read_text()))


def _recommend(tmp_path: Path, run_id: str, rps: float, history: JsonLinesHistory) -> list[PutEventsEntry]:
    """The Recommend step on one measured candidate (ml.c5.xlarge at ``rps`` per instance), local store."""
    run_dir = tmp_path / "runs" / run_id
    run_uri = local_uri(run_dir)
    request = {
        "name": "fraud",
        "model": {"type": "container", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"},
        "candidates": [{"instance_type": "ml.c5.xlarge"}],
        "traffic": {"min_rps": 500},
        "sla": {"percentile": "p95", "milliseconds": 100},
        "payloads": {"samples": ["1,2"]},
    }
    put_json(f"{run_uri}/request.json", request, LocalStore())
    outcome = {
        "candidate_id": "c01-ml-c5-xlarge",
        "instance_type": "ml.c5.xlarge",
        "status": "succeeded",
        "sustainable_rps": rps,
        "saturation_rps": rps * 1.2,
        "latency_ms": {"p50": 10, "p90": 20, "p95": 30, "p99": 40},
        "error_rate": 0,
        "requests": 1000,
        "test_seconds": 60,
    }
    backend = Backend(
        mode="aws",
        prices=SnapshotPrices(),
        guard=None,  # type: ignore[arg-type]
        containers=None,  # type: ignore[arg-type]
        metrics=None,  # type: ignore[arg-type]
        store=LocalStore(),
        default_poll_seconds=30,
        history=history,
    )
    step_input = RecommendInput(
        run_id=run_id, run_uri=run_uri, outcomes=[{"candidate": {"candidate_id": "c01"}, "outcome": outcome}]
    )
    return recommend_run(step_input, backend).events


def test_what_the_code_emits_validates(tmp_path: Path) -> None:
    history = JsonLinesHistory.in_folder(tmp_path)
    first = _recommend(tmp_path, "fraud-1", 210, history)
    assert [e.DetailType for e in first] == ["Rightsizing Completed"]  # the model's first run
    second = _recommend(tmp_path, "fraud-2", 150, history)  # slower: 4 instances instead of 3
    assert [e.DetailType for e in second] == ["Rightsizing Completed", "Recommendation Changed"]
    assert second[1].Detail["change"]["reasons"] == ["instance_count", "hourly_cost"]
    assert second[0].Detail["previous_run_id"] == "fraud-1" and second[0].Detail["recommendation_changed"]
    state_machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Rightsizing"  # added by Step Functions
    for entry in [*first, *second]:
        _validate(_delivered(entry, [state_machine]))
    failed = failed_entry(ExecutionStatusChange.model_validate(function_event("run_failed")["detail"]), "default")
    _validate(_delivered(failed))


def test_a_sample_with_a_field_of_the_wrong_shape_is_refused() -> None:
    sample = json.loads((SAMPLES / "recommendation-changed.json").read_text())
    sample["detail"]["change"]["reasons"] = []
    with pytest.raises(jsonschema.ValidationError):
        _validate(sample)


def _documented_patterns() -> list[dict[str, Any]]:
    """The rule patterns docs/aws-stack.md gives under 'Rule patterns' (json code blocks)."""
    section = DOC.read_text().split("#### Rule patterns", 1)[1].split("\n#", 1)[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.DOTALL)]


def test_the_documented_rule_patterns_match_the_samples() -> None:
    patterns = _documented_patterns()
    assert len(patterns) == 3
    samples = {p.stem: json.loads(p.read_text()) for p in SAMPLES.glob("*.json")}

    def matches(pattern: dict[str, Any]) -> set[str]:
        rule = EventPattern.load(json.dumps(pattern))
        return {name for name, sample in samples.items() if rule.matches_event(sample)}

    every, changes, failures_and_changes = (matches(p) for p in patterns)
    assert every == set(samples)
    assert changes == {"recommendation-changed"}
    assert failures_and_changes == {"recommendation-changed", "rightsizing-failed"}
    # the email rule is the third pattern, as documented
    assert deployed_template().resources["NotifyRule"]["Properties"]["EventPattern"] == patterns[2]
