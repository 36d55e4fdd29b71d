"""The history-event budget: the counts match the definition, and a run's worst case stays under 25,000."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from rightsizing import history_budget as history
from rightsizing.exceptions import InvalidRequest
from rightsizing.history_budget import HISTORY_EVENT_BUDGET, HISTORY_EVENT_LIMIT, poll_schedule, worst_case_events
from rightsizing.models.request import RightsizingRequest

DEFINITION = json.loads((REPO / "statemachine" / "rightsizing.asl.json").read_text())
ITERATION = DEFINITION["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"]


def _request(candidates: int, poll: int | None = None, wait: int = 3600) -> RightsizingRequest:
    limits: dict = {"max_endpoint_wait_seconds": wait} | ({"poll_seconds": poll} if poll else {})
    return RightsizingRequest.model_validate(
        {
            "model": {"type": "container", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
            "candidates": [{"instance_type": f"ml.c5.{n + 1}xlarge"} for n in range(candidates)],
            "traffic": {"min_rps": 10},
            "sla": {"milliseconds": 100},
            "payloads": {"samples": ["1"]},
            "limits": limits,
        }
    )


def _events(names: list[str]) -> int:
    per_type = {"Task": history.EVENTS_TASK, "Pass": 2, "Choice": 2, "Wait": 2}
    return sum(per_type[ITERATION[n]["Type"]] + (1 if n == "RunLoadTest" else 0) for n in names)


def test_counted_constants_match_the_definitions_success_path() -> None:
    success = [
        "StartCandidate",
        "IsWithinBudget",
        "IsExistingEndpoint",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "RunLoadTest",
        "Cleanup",
        "DeleteEndpoint",
        "DeleteEndpointConfig",
        "DeleteModel",
        "HasOutcome",
        "WaitForMetrics",
        "CollectMetrics",
        "CandidateDone",
    ]
    # The longest: CollectMetrics fails, and so does RecordFailure, which would have shortened its cause.
    longest = [*success[:-1], "RecordFailure", "FailureNotRecorded", "CandidateDone"]
    assert ITERATION["CollectMetrics"]["Catch"][0]["Next"] == "RecordFailure"
    assert ITERATION["RecordFailure"]["Catch"][0]["Next"] == "FailureNotRecorded"
    assert 2 + _events(longest) == history.EVENTS_CANDIDATE_FIXED  # + the Map iteration's start and end
    # A load test that never started or failed replaces WaitForMetrics + CollectMetrics with a Pass + RecordFailure.
    failed_load_test = [*success[:7], "LoadTestTaskFailed", *success[7:12], "RecordFailure", "CandidateDone"]
    assert _events(failed_load_test) <= _events(longest)
    assert _events(["DescribeEndpoint", "CountPoll", "IsEndpointReady", "WaitForEndpoint"]) == history.EVENTS_PER_POLL
    assert (
        _events(["DeleteEndpoint", "IsEndpointGone", "CountDeleteAttempt", "CanRetryDelete", "WaitBeforeDeleteRetry"])
        == history.EVENTS_PER_DELETE_RETRY
    )


def test_run_constant_matches_the_definitions_success_path() -> None:
    states = DEFINITION["States"]
    path, name = [], DEFINITION["StartAt"]
    while name:  # the success path: each state's Next, a Choice's Default
        path.append(name)
        name = states[name].get("Next") or states[name].get("Default")
    assert path == ["PlanRun", "BenchmarkCandidates", "Recommend", "PublishResult", "RunFinished"]
    per_type = {"Task": history.EVENTS_TASK, "Map": 4, "Choice": 2, "Succeed": 2}
    assert 2 + sum(per_type[states[n]["Type"]] for n in path) == history.EVENTS_RUN_FIXED


def test_typical_run_is_far_below_the_limit() -> None:
    # 10-minute endpoint creation, 30 s polls: 21 polls per candidate.
    assert history.run_events(40, 21, 1) < HISTORY_EVENT_LIMIT // 2


@pytest.mark.parametrize("candidates", [1, 5, 12, 40])
def test_default_poll_interval_is_widened_to_fit_the_worst_case(candidates: int) -> None:
    schedule = poll_schedule(_request(candidates), default_poll_seconds=30, budget=HISTORY_EVENT_BUDGET)
    assert schedule.poll_seconds >= 30
    assert worst_case_events(candidates, 3600, schedule.poll_seconds) <= HISTORY_EVENT_BUDGET
    if candidates <= 5:
        assert schedule.poll_seconds == 30  # small runs keep the default


def test_explicit_poll_interval_the_budget_cannot_afford_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"limits\.poll_seconds: 5 s polls of 40 candidates"):
        poll_schedule(_request(40, poll=5), default_poll_seconds=30, budget=HISTORY_EVENT_BUDGET)


def test_local_runs_have_no_budget() -> None:
    assert poll_schedule(_request(40, poll=1), default_poll_seconds=1, budget=None).poll_seconds == 1
