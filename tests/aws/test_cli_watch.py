"""``rightsize watch`` and ``status`` reading an execution history shaped like Step Functions' own.

The histories are built from statemachine/rightsizing.asl.json: each event names a real state and has the event
type of that state's Type (TaskStateEntered, ChoiceStateEntered, ...); botocore's Stubber checks every response
against the stepfunctions API model, and the event types against its HistoryEventType enum.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from rightsizing_cli import aws_context
from rightsizing_cli.main import app
from rightsizing_cli.run_history import RunHistory

REPO = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((REPO / "statemachine" / "rightsizing.asl.json").read_text())
ITERATION = DEFINITION["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"]
STATE_TYPES = {name: s["Type"] for name, s in {**DEFINITION["States"], **ITERATION}.items()}
EVENT_TYPES = set(
    boto3.client("stepfunctions", region_name="us-east-1").meta.service_model.shape_for("HistoryEventType").enum
)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Rightsizing"
CLEANUP = "arn:aws:states:us-east-1:123456789012:stateMachine:RightsizingCleanup"
RUN_ID = "fraud-xgboost-0123456789ab"
EXECUTION = f"arn:aws:states:us-east-1:123456789012:execution:Rightsizing:{RUN_ID}"
START = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
runner = CliRunner()


def candidate(index: int, instance_type: str) -> dict[str, Any]:
    slug = instance_type.replace(".", "-")
    name = f"rightsize-{RUN_ID}-c{index:02d}"
    return {
        "run_id": RUN_ID,
        "candidate_id": f"c{index:02d}-{slug}",
        "instance_type": instance_type,
        "endpoint_name": name,
        "model_name": name,
        "endpoint_config_name": name,
        "existing_endpoint": False,
        "poll_seconds": 30,
        "max_polls": 80,
    }


class History:
    """Events in id order, as Step Functions records them (entered/exited pairs, 10 s apart)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, **details: Any) -> None:
        assert kind in EVENT_TYPES, kind
        number = len(self.events) + 1
        event = {"timestamp": START + timedelta(seconds=10 * number), "type": kind, "id": number}
        event["previousEventId"] = number - 1
        self.events.append({**event, **details})

    def state(self, name: str, state_input: dict[str, Any], output: dict[str, Any] | None = None) -> None:
        kind = STATE_TYPES[name]  # KeyError: the state is not in the definition
        self.add(f"{kind}StateEntered", stateEnteredEventDetails={"name": name, "input": json.dumps(state_input)})
        exited = {"name": name, "output": json.dumps(output if output is not None else state_input)}
        self.add(f"{kind}StateExited", stateExitedEventDetails=exited)

    def started(self, request: dict[str, Any], candidates: list[dict[str, Any]]) -> None:
        self.add("ExecutionStarted", executionStartedEventDetails={"input": json.dumps(request), "roleArn": "r"})
        plan = {"plan": {"run_id": RUN_ID, "max_concurrency": 2, "candidates": candidates}}
        self.state("PlanRun", request, plan)
        self.add("MapStateEntered", stateEnteredEventDetails={"name": "BenchmarkCandidates", "input": json.dumps(plan)})
        self.add("MapStateStarted", mapStateStartedEventDetails={"length": len(candidates)})

    def deployed(self, item: dict[str, Any], index: int) -> None:
        self.add("MapIterationStarted", mapIterationStartedEventDetails={"name": "BenchmarkCandidates", "index": index})
        slot = {"candidate": item, "polls": {"count": 0}, "deletes": {"count": 0}, "cleanup": {}, "leak": None}
        created = ("CreateModel", "CreateEndpointConfig", "CreateEndpoint")
        for name in ("StartCandidate", "IsWithinBudget", "IsExistingEndpoint", *created):
            self.state(name, slot)
        for status in ("Creating", "InService"):
            polled = {**slot, "endpoint": {"EndpointStatus": status}}
            self.state("DescribeEndpoint", polled)
            self.state("CountPoll", polled)
            self.state("IsEndpointReady", polled)
            if status == "Creating":
                self.state("WaitForEndpoint", polled)
        self.state("RunLoadTest", slot)

    def measured(self, item: dict[str, Any], index: int, rps: float, status: str = "succeeded") -> None:
        slot = {"candidate": item, "polls": {"count": 2}, "deletes": {"count": 0}, "cleanup": {}, "leak": None}
        for name in ("Cleanup", "DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel", "HasOutcome"):
            self.state(name, slot)
        self.state("WaitForMetrics", slot)
        self.state("CollectMetrics", slot)
        outcome = {
            "candidate_id": item["candidate_id"],
            "instance_type": item["instance_type"],
            "status": status,
            "sustainable_rps": rps,
            "stop_reason": "the next step broke the SLA",
        }
        self.state("CandidateDone", {**slot, "outcome": outcome})
        self.add(
            "MapIterationSucceeded", mapIterationSucceededEventDetails={"name": "BenchmarkCandidates", "index": index}
        )

    def endpoint_failed(self, item: dict[str, Any], index: int) -> None:
        self.add("MapIterationStarted", mapIterationStartedEventDetails={"name": "BenchmarkCandidates", "index": index})
        slot = {"candidate": item, "polls": {"count": 1}, "deletes": {"count": 0}, "cleanup": {}, "leak": None}
        self.state("CreateModel", slot)
        failed = {**slot, "endpoint": {"EndpointStatus": "Failed"}}
        self.state("IsEndpointReady", failed)
        outcome = {"Error": "EndpointFailed", "Cause": f"endpoint {item['endpoint_name']} reached status Failed"}
        self.state("EndpointFailed", failed, {**failed, "outcome": outcome})
        for name in ("Cleanup", "DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel", "HasOutcome", "CandidateDone"):
            self.state(name, {**failed, "outcome": outcome})
        self.add(
            "MapIterationSucceeded", mapIterationSucceededEventDetails={"name": "BenchmarkCandidates", "index": index}
        )

    def succeeded(self, summary: dict[str, Any]) -> None:
        self.add("MapStateSucceeded")
        self.state("Recommend", {}, {"summary": summary})
        self.state("PublishResult", {"summary": summary}, summary)
        self.add("ExecutionSucceeded", executionSucceededEventDetails={"output": json.dumps(summary)})


REQUEST = {"name": "fraud-xgboost", "sla": {"percentile": "p99", "milliseconds": 80}}
SUMMARY = {
    "run_id": RUN_ID,
    "recommended": True,
    "instance_type": "ml.c5.xlarge",
    "instance_count": 2,
    "usd_per_hour": 0.408,
    "message": "2 × ml.c5.xlarge serves 500-800 RPS at p99 ≤ 80 ms",
    "measured_cost_usd": 1.2345,
    "estimated_cost_usd": 1.5,
}


@pytest.fixture
def aws(stubbed: Callable[..., tuple[Any, Stubber]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    sfn, sfn_stub = stubbed("stepfunctions")
    cfn, cfn_stub = stubbed("cloudformation")
    clients = {"stepfunctions": sfn, "cloudformation": cfn}
    monkeypatch.setattr(aws_context, "client_factory", lambda session, service, region: clients[service])
    outputs = [
        {"OutputKey": "StateMachineArn", "OutputValue": MACHINE},
        {"OutputKey": "CleanupStateMachineArn", "OutputValue": CLEANUP},
    ]
    stack = {"StackName": "sagemaker-rightsizing", "CreationTime": START, "StackStatus": "CREATE_COMPLETE"}
    cfn_stub.add_response(
        "describe_stacks", {"Stacks": [{**stack, "Outputs": outputs}]}, {"StackName": stack["StackName"]}
    )
    return sfn_stub


def _description(status: str, output: dict[str, Any] | None = None) -> dict[str, Any]:
    description = {
        "executionArn": EXECUTION,
        "stateMachineArn": MACHINE,
        "name": RUN_ID,
        "status": status,
        "startDate": START,
        "input": json.dumps(REQUEST),
    }
    if output is not None:
        description |= {"output": json.dumps(output), "stopDate": START + timedelta(hours=1)}
    return description


def test_watch_follows_a_candidate_through_the_real_states_to_the_recommendation(aws: Stubber) -> None:
    first, second = candidate(1, "ml.c5.xlarge"), candidate(2, "ml.m5.xlarge")
    history = History()
    history.started(REQUEST, [first, second])
    history.deployed(first, 0)
    seen = len(history.events)  # the first read ends here, mid-load-test
    history.measured(first, 0, rps=412.5)
    history.endpoint_failed(second, 1)
    history.succeeded(SUMMARY)
    newest_first = history.events[::-1]
    later = len(history.events) - seen

    aws.add_response("describe_execution", _description("RUNNING"), {"executionArn": EXECUTION})
    aws.add_response(
        "get_execution_history",
        {"events": history.events[:seen]},
        {"executionArn": EXECUTION, "maxResults": 1000},
    )
    poll = {"executionArn": EXECUTION, "maxResults": 100, "reverseOrder": True}
    aws.add_response("get_execution_history", {"events": newest_first[:20], "nextToken": "t1"}, poll)
    aws.add_response("get_execution_history", {"events": newest_first[20 : later + 5]}, {**poll, "nextToken": "t1"})
    aws.add_response("describe_execution", _description("SUCCEEDED", SUMMARY), {"executionArn": EXECUTION})
    aws.add_response("list_executions", {"executions": []}, {"stateMachineArn": CLEANUP, "maxResults": 50})

    result = runner.invoke(app, ["watch", RUN_ID, "--interval", "0"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def line(*words: str) -> int:
        return next(i for i, text in enumerate(lines) if all(w in text for w in words))

    assert line("planned 2 candidate(s)") < line("c01-ml-c5-xlarge", "deploying", "ml.c5.xlarge")
    assert line("c01-ml-c5-xlarge", "deploying") < line("c01-ml-c5-xlarge", "load test", "in service")
    assert line("c01-ml-c5-xlarge", "load test") < line("c01-ml-c5-xlarge", "deleted")
    assert line("c01-ml-c5-xlarge", "deleted") < line("c01-ml-c5-xlarge", "measured: 412.5 RPS within SLA")
    assert "reached status Failed" in lines[line("c02-ml-m5-xlarge", "failed")]
    assert sum("c02-ml-m5-xlarge" in text and "failed" in text for text in lines) == 1  # said once
    assert "Recommendation: 2 × ml.c5.xlarge" in result.output
    assert "run cost: $1.2345 measured (estimate $1.5000)" in result.output  # not notional: no local label
    assert line("succeeded") > line("measured")
    # elapsed times come from the events, not from when watch read them
    create = next(e for e in history.events if e.get("stateEnteredEventDetails", {}).get("name") == "CreateModel")
    elapsed = (create["timestamp"] - history.events[0]["timestamp"]).total_seconds()
    assert lines[line("c01-ml-c5-xlarge", "deploying")].startswith(f"{elapsed:6.1f}s")


def test_watch_exit_code_says_how_the_run_ended(aws: Stubber) -> None:
    history = History()
    history.started(REQUEST, [candidate(1, "ml.c5.xlarge")])
    history.add("ExecutionFailed", executionFailedEventDetails={"error": "States.Runtime", "cause": "boom"})
    aws.add_response("describe_execution", _description("RUNNING"), {"executionArn": EXECUTION})
    aws.add_response(
        "get_execution_history", {"events": history.events}, {"executionArn": EXECUTION, "maxResults": 1000}
    )
    failed = {**_description("FAILED"), "stopDate": START + timedelta(minutes=5), "error": "States.Runtime"}
    aws.add_response("describe_execution", failed, {"executionArn": EXECUTION})
    sweep = f"arn:aws:states:us-east-1:123456789012:execution:RightsizingCleanup:{'a' * 36}"
    listed = {"executionArn": sweep, "stateMachineArn": CLEANUP, "name": "a" * 36, "status": "RUNNING"}
    aws.add_response(
        "list_executions",
        {"executions": [{**listed, "startDate": START + timedelta(minutes=6)}]},
        {"stateMachineArn": CLEANUP, "maxResults": 50},
    )
    sweep_description = {**listed, "startDate": START + timedelta(minutes=6), "input": json.dumps({"run_id": RUN_ID})}
    aws.add_response("describe_execution", sweep_description, {"executionArn": sweep})

    result = runner.invoke(app, ["watch", EXECUTION, "--interval", "0", "--output", "json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "FAILED" and document["cleanup"][0]["status"] == "RUNNING"
    assert document["candidates"][0]["stage"] == "pending"
    assert "failed: States.Runtime: boom" in result.stderr  # progress goes to stderr in json mode


def test_history_stages_for_status() -> None:
    first, second = candidate(1, "ml.c5.xlarge"), candidate(2, "ml.m5.xlarge")
    history = History()
    history.started(REQUEST, [first, second])
    history.deployed(first, 0)
    progress = RunHistory()
    progress.feed(history.events)
    assert {c.candidate_id: c.stage for c in progress.candidates.values()} == {
        "c01-ml-c5-xlarge": "load_test",
        "c02-ml-m5-xlarge": "pending",
    }
    history.measured(first, 0, rps=100)
    history.endpoint_failed(second, 1)
    progress.feed(history.events)  # events already seen are skipped
    first_state, second_state = progress.candidates.values()
    assert (first_state.stage, first_state.deleted, first_state.sustainable_rps) == ("done", True, 100)
    assert second_state.stage == "failed" and second_state.failure and "EndpointFailed" in second_state.failure
    assert not progress.finished


def test_a_lower_bound_is_watched_and_shown_as_one() -> None:
    item = candidate(1, "ml.c5.xlarge")
    history = History()
    history.started(REQUEST, [item])
    history.deployed(item, 0)
    history.measured(item, 0, rps=470, status="lower_bound")
    progress = RunHistory()
    lines = progress.feed(history.events)
    state = next(iter(progress.candidates.values()))
    assert (state.stage, state.sustainable_rps, state.lower_bound) == ("done", 470, True)
    done = next(json.loads(line.detail) for line in lines if line.stage == "done")
    assert done["lower_bound"] is True and done["sustainable_rps"] == 470


def test_an_endpoint_that_refused_deletion_is_reported_as_handed_to_cleanup() -> None:
    item = candidate(1, "ml.c5.xlarge")
    history = History()
    history.started(REQUEST, [item])
    history.deployed(item, 0)
    slot = {"candidate": item, "polls": {"count": 2}, "deletes": {"count": 80}, "cleanup": {}, "leak": None}
    for name in ("Cleanup", "DeleteEndpoint", "IsEndpointGone", "CountDeleteAttempt", "CanRetryDelete"):
        history.state(name, slot)
    history.state("EndpointNotDeleted", slot)
    history.state("StartSweep", slot)
    progress = RunHistory()
    lines = progress.feed(history.events)
    assert progress.leaked and lines[-1].stage == "not_deleted" and "cleanup state machine" in lines[-1].detail
    history.state("HasOutcome", slot)
    progress.feed(history.events)
    (state,) = progress.candidates.values()
    assert state.stage == "not_deleted" and not state.deleted
