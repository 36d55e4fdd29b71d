"""Static checks of statemachine/*.asl.json: conventions and invariants the runtime tests cannot see."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from rightsizing import exceptions
from rightsizing.measured_cost import ENDPOINT_INSTANCE_COUNT
from rightsizing.models.cost import StateTimes, UsageRecord
from rightsizing.models.plan import CandidatePlan, production_variants_for
from rightsizing.models.result import CandidateResult
from rightsizing_local.asl_runner import DEFINITION_PATH, render_definition
from rightsizing_local.run import local_substitutions

DEFINITION: dict[str, Any] = json.loads(DEFINITION_PATH.read_text())
CLEANUP_DEFINITION: dict[str, Any] = json.loads((DEFINITION_PATH.parent / "cleanup.asl.json").read_text())
ITERATION = DEFINITION["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"]
# Tasks that run after (or as part of) cleanup: their failures are recorded, not sent back to cleanup.
CLEANUP_TASKS = (
    "DeleteEndpoint",
    "DeleteEndpointConfig",
    "DeleteModel",
    "StartSweep",
    "CollectMetrics",
    "RecordFailure",
)
DOMAIN_ERRORS = {name for name, value in vars(exceptions).items() if isinstance(value, type)}
# Error names Step Functions raises for the integrations used (see docs/aws-stack.md, "The rightsizing state machine").
AWS_ERRORS = {
    "States.ALL",
    "States.TaskFailed",
    "States.Timeout",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "SageMaker.SageMakerException",
    "ECS.AmazonECSException",
    "ECS.ServerException",
    "AmazonECS.Unknown",
    # RunTask's modelled errors, as the optimised ECS integration names them (ECS.<exception>)
    "ECS.AccessDeniedException",
    "ECS.ClientException",
    "ECS.InvalidParameterException",
    "ECS.ClusterNotFoundException",
    "ECS.PlatformTaskDefinitionIncompatibilityException",
    "ECS.PlatformUnknownException",
    "ECS.UnsupportedFeatureException",
    "ECS.BlockedException",
    "EventBridge.FailedEntry",  # events:putEvents when FailedEntryCount > 0 (no exception from the API)
}


def _tasks(states: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in states.items() if s["Type"] == "Task"}


def _targets(state: dict[str, Any]) -> set[str]:
    targets = {state.get("Next"), state.get("Default")}
    targets |= {c["Next"] for c in state.get("Catch", [])}
    targets |= {c["Next"] for c in state.get("Choices", [])}
    return {t for t in targets if t}


def _reachable(states: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_targets(states[name]))
    return seen


@pytest.mark.parametrize("definition", [DEFINITION, CLEANUP_DEFINITION], ids=["rightsizing", "cleanup"])
def test_definition_has_comment_timeout_and_no_dead_states(definition: dict[str, Any]) -> None:
    assert definition["Comment"] and definition["TimeoutSeconds"] > 0
    assert _reachable(definition["States"], definition["StartAt"]) == set(definition["States"])


def test_every_iteration_state_is_reachable_and_every_target_exists() -> None:
    assert _reachable(ITERATION, "StartCandidate") == set(ITERATION)


def test_every_task_sets_result_path_and_retries_with_full_jitter() -> None:
    for name, state in {**_tasks(DEFINITION["States"]), **_tasks(ITERATION)}.items():
        assert "ResultPath" in state or "OutputPath" in state, name
        if name == "DeleteEndpoint":
            # Its catch-all leads into a bounded Wait loop that retries (refused while Creating, throttled).
            assert state["Catch"][0]["Next"] == "IsEndpointGone" and "Retry" not in state
            continue
        assert state.get("Retry"), f"{name} has no Retry"
        for retry in state["Retry"]:
            assert retry.get("JitterStrategy") == "FULL", name


def test_retry_and_catch_name_only_known_errors() -> None:
    states = {**DEFINITION["States"], **ITERATION, **CLEANUP_DEFINITION["States"]}
    for name, state in states.items():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            unknown = set(rule["ErrorEquals"]) - AWS_ERRORS - DOMAIN_ERRORS
            assert not unknown, f"{name} names errors nothing raises: {unknown}"


def test_every_failure_in_an_iteration_reaches_cleanup() -> None:
    for name, state in _tasks(ITERATION).items():
        catches = state.get("Catch", [])
        assert any("States.ALL" in c["ErrorEquals"] for c in catches), f"{name} has no catch-all"
        if name not in CLEANUP_TASKS:
            assert all(c["Next"] in ("Cleanup", "LoadTestTaskFailed", "LoadTestNotStarted") for c in catches), name
    for name in ("EndpointFailed", "EndpointTimedOut", "LoadTestTaskFailed", "LoadTestNotStarted"):
        assert ITERATION[name]["Next"] == "Cleanup"
    assert ITERATION["RunLoadTest"]["Next"] == "Cleanup"


def test_cleanup_deletes_endpoint_then_config_then_model_then_measures() -> None:
    assert ITERATION["Cleanup"]["Default"] == "DeleteEndpoint"
    assert ITERATION["DeleteEndpoint"]["Next"] == "DeleteEndpointConfig"
    assert ITERATION["DeleteEndpointConfig"]["Next"] == "DeleteModel"
    assert ITERATION["DeleteModel"]["Next"] == "HasOutcome"
    assert ITERATION["HasOutcome"]["Default"] == "WaitForMetrics"
    assert ITERATION["WaitForMetrics"]["Next"] == "CollectMetrics"
    assert ITERATION["CollectMetrics"]["Next"] == "CandidateDone"
    assert ITERATION["CandidateDone"].get("End") is True


def test_refused_delete_is_retried_a_bounded_number_of_times() -> None:
    gone = ITERATION["IsEndpointGone"]["Choices"][0]
    assert gone["StringMatches"] == "*Could not find endpoint*" and gone["Next"] == "DeleteEndpointConfig"
    bound = ITERATION["CanRetryDelete"]["Choices"][0]
    assert bound["NumericGreaterThanEqualsPath"] == "$.candidate.max_delete_attempts"
    assert ITERATION["WaitBeforeDeleteRetry"]["Next"] == "DeleteEndpoint"
    assert ITERATION["EndpointNotDeleted"]["Next"] == "StartSweep"


def test_existing_endpoint_skips_create_and_delete() -> None:
    for choice_state, skip_to in (("IsExistingEndpoint", "DescribeEndpoint"), ("Cleanup", "HasOutcome")):
        rule = ITERATION[choice_state]["Choices"][0]
        assert rule == {"Variable": "$.candidate.existing_endpoint", "BooleanEquals": True, "Next": skip_to}


def test_poll_interval_concurrency_and_timeout_come_from_the_plan() -> None:
    assert ITERATION["WaitForEndpoint"]["SecondsPath"] == "$.candidate.poll_seconds"
    assert ITERATION["RunLoadTest"]["TimeoutSecondsPath"] == "$.candidate.load_test_timeout_seconds"
    assert DEFINITION["States"]["BenchmarkCandidates"]["MaxConcurrencyPath"] == "$.plan.max_concurrency"


def test_every_candidate_path_is_a_plan_field() -> None:
    used = set(re.findall(r"\$\.candidate\.([a-z_]+)", DEFINITION_PATH.read_text()))
    assert used and used <= set(CandidatePlan.model_fields), used - set(CandidatePlan.model_fields)


def test_local_substitutions_fill_every_placeholder() -> None:
    rendered = render_definition(local_substitutions("file:///tmp/x"))
    assert not re.search(r"\$\{[A-Za-z0-9]+\}", rendered)
    json.loads(rendered)


def test_a_candidate_the_budget_skips_creates_nothing_and_is_recorded_as_skipped() -> None:
    """The plan gives a candidate that would pass budget_usd a skip_reason (null otherwise): the iteration goes
    straight to CandidateDone with a CandidateResult, touching no SageMaker or ECS state."""
    iteration = DEFINITION["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"]
    assert iteration["StartCandidate"]["Next"] == "IsWithinBudget"
    check = iteration["IsWithinBudget"]
    # IsString: a null skip_reason (every plan carries the field) is not a string, so the candidate runs.
    assert check["Choices"] == [{"Variable": "$.candidate.skip_reason", "IsString": True, "Next": "SkipCandidate"}]
    assert check["Default"] == "IsExistingEndpoint"
    skip = iteration["SkipCandidate"]
    assert (skip["Type"], skip["ResultPath"], skip["Next"]) == ("Pass", "$.outcome", "CandidateDone")
    plan = {"candidate_id": "c03-local-large", "instance_type": "local.large", "environment": {}, "skip_reason": "why"}
    outcome = {
        key.removesuffix(".$"): plan[value.removeprefix("$.candidate.")] if key.endswith(".$") else value
        for key, value in skip["Parameters"].items()
    }
    result = CandidateResult.model_validate(outcome)
    assert (result.status, result.failure_reason) == ("skipped", "why")


def test_the_measured_cost_timestamps_reach_collect_metrics_and_record_failure_on_every_path() -> None:
    """StartCandidate creates $.times; CreateEndpoint, RunLoadTest and DeleteEndpoint write into it; no state of the
    iteration replaces the whole state (or $.times) on the way; and every path to CandidateDone but the skip passes
    CollectMetrics or RecordFailure, which hand $.times, the counters and their own entry time to the function."""
    assert ITERATION["StartCandidate"]["Parameters"]["times"] == {}
    recorded = {
        "CreateEndpoint": "$.times.endpoint_created",
        "RunLoadTest": "$.times.load_test",
        "DeleteEndpoint": "$.times.endpoint_deleted",
    }
    for name, path in recorded.items():
        assert ITERATION[name]["ResultPath"] == path, name
        assert path.removeprefix("$.times.") in StateTimes.model_fields
    for name in ("CreateEndpoint", "DeleteEndpoint"):  # the entry time of the state, as an object the model reads
        assert ITERATION[name]["ResultSelector"] == {"at.$": "$$.State.EnteredTime"}
    for name, state in ITERATION.items():
        if name in ("StartCandidate", "CandidateDone"):
            continue  # the first builds the state, the last is what the Map collects
        paths = [state.get("ResultPath", "$"), *(c["ResultPath"] for c in state.get("Catch", []))]
        if state["Type"] in ("Choice", "Wait"):
            paths = []  # they pass their input through
        assert "OutputPath" not in state, name
        for path in paths:
            assert path not in ("$", "$.times"), (name, path)
    without = {
        name: s for name, s in ITERATION.items() if name not in ("CollectMetrics", "RecordFailure", "SkipCandidate")
    }
    assert "CandidateDone" not in _reachable_within(without, "StartCandidate")
    usage = {
        "times.$": "$.times",
        "polls.$": "$.polls.count",
        "delete_attempts.$": "$.deletes.count",
        "collected_at.$": "$$.State.EnteredTime",
    }
    for name in ("CollectMetrics", "RecordFailure"):
        assert ITERATION[name]["Parameters"]["usage"] == usage, name
    assert {key.removesuffix(".$") for key in usage} == set(UsageRecord.model_fields)
    # The variants come whole from the plan; an instance candidate's count is what endpoint seconds are multiplied by.
    assert ITERATION["CreateEndpointConfig"]["Parameters"]["ProductionVariants.$"] == "$.candidate.production_variants"
    [variant] = production_variants_for("ml.c5.large", "m", None)
    assert variant["InitialInstanceCount"] == ENDPOINT_INSTANCE_COUNT


def _reachable_within(states: dict[str, Any], start: str) -> set[str]:
    """Like _reachable, but a target outside ``states`` is not followed."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in states and name not in seen:
            seen.add(name)
            todo.extend(_targets(states[name]))
    return seen
