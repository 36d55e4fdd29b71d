"""Static checks of statemachine/rightsizing.asl.json: conventions the runtime tests cannot see."""

from __future__ import annotations

import json
import re
from typing import Any

from rightsizing_local.asl_runner import DEFINITION_PATH, render_definition
from rightsizing_local.run import local_substitutions

DEFINITION: dict[str, Any] = json.loads(DEFINITION_PATH.read_text())
ITERATION = DEFINITION["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"]
CLEANUP = ("DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel")


def _tasks(states: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in states.items() if s["Type"] == "Task"}


def test_definition_has_comment_and_timeout() -> None:
    assert DEFINITION["Comment"] and DEFINITION["TimeoutSeconds"] > 0


def test_every_task_sets_result_path_and_retries() -> None:
    for name, state in {**_tasks(DEFINITION["States"]), **_tasks(ITERATION)}.items():
        assert "ResultPath" in state or "OutputPath" in state, name
        assert state.get("Retry"), f"{name} has no Retry"
        for retry in state["Retry"]:
            assert retry.get("JitterStrategy") == "FULL", name


def test_every_failure_in_an_iteration_reaches_cleanup() -> None:
    for name, state in _tasks(ITERATION).items():
        catches = state.get("Catch", [])
        assert any("States.ALL" in c["ErrorEquals"] for c in catches), f"{name} has no catch-all"
        if name not in CLEANUP:
            assert catches[0]["Next"] == "DeleteEndpoint", name
    for name in ("EndpointFailed", "EndpointTimedOut"):
        assert ITERATION[name]["Next"] == "DeleteEndpoint"


def test_cleanup_chain_is_complete_and_ends_the_iteration() -> None:
    assert ITERATION["CollectMetrics"]["Next"] == "DeleteEndpoint"
    assert ITERATION["DeleteEndpoint"]["Next"] == "DeleteEndpointConfig"
    assert ITERATION["DeleteEndpointConfig"]["Next"] == "DeleteModel"
    assert ITERATION["DeleteModel"]["Next"] == "CandidateDone"
    assert ITERATION["CandidateDone"].get("End") is True


def test_poll_interval_and_concurrency_come_from_the_input() -> None:
    assert ITERATION["WaitForEndpoint"]["SecondsPath"] == "$.candidate.poll_seconds"
    assert DEFINITION["States"]["BenchmarkCandidates"]["MaxConcurrencyPath"] == "$.plan.max_concurrency"


def test_local_substitutions_fill_every_placeholder() -> None:
    rendered = render_definition(local_substitutions("file:///tmp/x"))
    assert not re.search(r"\$\{[A-Za-z0-9]+\}", rendered)
    json.loads(rendered)
