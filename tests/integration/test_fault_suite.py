"""The fault suite's cases that test_local_pipeline.py does not cover (the full table: docs/testing.md, "Fault
suite"). Each runs the real ASL locally against the fakes and asserts that no endpoint, endpoint config, model,
task or process is left, that the reason is in the result, and that the other candidates are still measured.
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfn_template import load_template
from moto.events.models import EventPattern
from pipeline_helpers import PlanOverride, Proxy, assert_everything_deleted, by_id, run

from rightsizing.run_events import ExecutionStatusChange
from rightsizing_cli.exit_codes import execution_failure
from rightsizing_local.aws_errors import client_error
from rightsizing_local.cleanup import SweepSchedule
from rightsizing_local.run import LOCAL_EXECUTION_ARN


def test_two_candidates_refused_at_once_while_a_third_is_recommended(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [
        {"instance_type": "local.small"},
        {"instance_type": "local.medium"},
        {"instance_type": "local.large"},
    ]
    fast_request["limits"]["max_parallel_candidates"] = 3  # all three in the same concurrency window
    refused_together = threading.Barrier(2, timeout=30)

    class QuotaZeroForTwo(Proxy):
        def create_endpoint(self, **kwargs: Any) -> dict:
            name = kwargs["EndpointName"]
            if name.endswith(("-c01", "-c03")):
                self.inner.calls.append(("CreateEndpoint", name))
                if sum(1 for op, n in self.inner.calls if op == "CreateEndpoint" and n == name) == 1:
                    refused_together.wait()  # both first refusals happen while the other is in flight
                raise client_error(
                    "CreateEndpoint", "The account-level service limit is 0 Instances", "ResourceLimitExceeded"
                )
            return self.inner.create_endpoint(**kwargs)

    result = run(tmp_path, fast_request, lambda c: {**c, "sagemaker": QuotaZeroForTwo(c["sagemaker"])})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidates = by_id(result)
    for failed in (candidates["c01-local-small"], candidates["c03-local-large"]):
        assert failed.status == "failed"
        assert failed.failure_reason.startswith("SageMaker.ResourceLimitExceededException: The account-level")
    assert candidates["c02-local-medium"].status == "succeeded"
    assert result.result is not None and result.result.recommendation is not None
    assert result.result.recommendation.instance_type == "local.medium"
    assert_everything_deleted(result)


class CollectRaisesFor(Proxy):
    """The CollectMetrics function raises for one candidate after its load test (as Lambda reports an unhandled
    error); its RecordFailure call (same function, with ``failure``) still works."""

    def __init__(self, inner: Any, candidate_id: str) -> None:
        super().__init__(inner)
        self.candidate_id = candidate_id

    def invoke(self, FunctionName: str, Payload: bytes | str | None = None, **kwargs: Any) -> dict:
        event = json.loads(Payload or b"{}")
        if (
            FunctionName.endswith("-collect-metrics")
            and "failure" not in event
            and event["candidate"]["candidate_id"] == self.candidate_id
        ):
            body = {"errorType": "AwsThrottled", "errorMessage": "CloudWatch GetMetricData kept throttling"}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}
        return self.inner.invoke(FunctionName=FunctionName, Payload=Payload, **kwargs)


def test_a_lambda_that_raises_fails_only_its_candidate(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]

    result = run(tmp_path, fast_request, lambda c: {**c, "lambda": CollectRaisesFor(c["lambda"], "c01-local-small")})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidates = by_id(result)
    failed = candidates["c01-local-small"]
    assert failed.status == "failed"
    assert failed.failure_reason == "AwsThrottled: CloudWatch GetMetricData kept throttling"
    assert candidates["c02-local-medium"].status == "succeeded"
    assert result.result.recommendation.instance_type == "local.medium"  # type: ignore[union-attr]
    states = result.execution.entered_states()
    assert states.count("CollectMetrics") == 2 and states.count("RecordFailure") == 1
    assert_everything_deleted(result)


def _kill_at_first_probe(candidate_suffix: str, what: str) -> tuple[dict[str, Any], Any, list[int]]:
    """A progress sink that SIGKILLs the candidate's model server (its whole process group: master and workers)
    or its load generator (the task's first process only, as an out-of-memory kill would) once it is measuring."""
    fakes: dict[str, Any] = {}
    killed: list[int] = []

    # A master with workers reports "generator" once they are connected: the test is running from then on.
    stages = ("probe",) if what == "server" else ("generator", "probe")

    def progress(key: str, stage: str, detail: str) -> None:
        if not key.endswith(candidate_suffix) or stage not in stages or killed:
            return
        if what == "server":
            pid = fakes["sagemaker"]._endpoints[key].server.process.pid
            killed.append(pid)
            os.killpg(pid, signal.SIGKILL)
        else:
            [task] = [t for t in fakes["ecs"]._tasks.values() if t.endpoint_name == key]
            killed.append(task.process.pid)
            os.kill(task.process.pid, signal.SIGKILL)

    def keep(clients: dict[str, Any]) -> dict[str, Any]:
        fakes.update(clients)
        return clients

    return fakes, (progress, keep), killed


def _run_with_progress(tmp_path: Path, document: dict, progress: Any, keep: Any) -> Any:
    from pipeline_helpers import RETRY_TIME_SCALE

    from rightsizing.models.request import RightsizingRequest
    from rightsizing_local.run import run_local

    request = RightsizingRequest.model_validate(document)
    return run_local(request, tmp_path, progress=progress, wrap_clients=keep, retry_time_scale=RETRY_TIME_SCALE)


def test_a_model_server_killed_mid_test_fails_its_candidate_and_says_why(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]
    _, (progress, keep), killed = _kill_at_first_probe("-c01", "server")

    result = _run_with_progress(tmp_path, fast_request, progress, keep)

    assert killed, "the server was never killed"
    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidates = by_id(result)
    failed = candidates["c01-local-small"]
    assert failed.status == "failed" and failed.sustainable_rps is None  # no capacity from a server that died
    assert failed.failure_reason.startswith("LoadTestFailed: endpoint http://127.0.0.1:")
    assert "stopped answering mid-test" in failed.failure_reason and "refused" in failed.failure_reason
    assert "container locust exited 1" in failed.failure_reason
    assert candidates["c02-local-medium"].status == "succeeded"
    assert result.result.recommendation.instance_type == "local.medium"  # type: ignore[union-attr]
    assert_everything_deleted(result)


def test_a_load_generator_killed_mid_test_fails_its_candidate_and_says_why(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]
    fast_request["load"]["workers"] = 2  # a master with two worker processes: the kill leaves the workers orphaned
    fast_request["limits"]["max_seconds_per_candidate"] = 30  # starting workers on a busy machine takes seconds
    _, (progress, keep), killed = _kill_at_first_probe("-c01", "generator")

    result = _run_with_progress(tmp_path, fast_request, progress, keep)

    candidates = by_id(result)
    failed = candidates["c01-local-small"]
    assert killed, f"the load generator was never killed: {failed.status} {failed.failure_reason}"
    assert result.execution.status == "SUCCEEDED", result.execution.cause
    assert failed.status == "failed"
    assert "container locust exited 137 (killed by SIGKILL, e.g. out of memory)" in failed.failure_reason
    assert candidates["c02-local-medium"].status == "succeeded"
    assert_everything_deleted(result)  # the orphaned workers included: their process group is checked


def test_an_endpoint_stuck_creating_is_swept_once_deletable(tmp_path: Path, fast_request: dict) -> None:
    """Creating past the wait (EndpointTimeout) and past the run's delete attempts: handed to the cleanup state
    machine, whose sweeps find it Creating, wait, and delete endpoint, config and model once it has failed."""
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]
    fakes: dict[str, Any] = {}

    def stuck(clients: dict[str, Any]) -> dict[str, Any]:
        fakes.update(clients)
        clients["sagemaker"].hold_in_creating("-c01", seconds=20)  # past the whole run
        return {**clients, "lambda": PlanOverride(clients["lambda"], only="-small", max_polls=2, max_delete_attempts=2)}

    result = run(tmp_path, fast_request, stuck)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidates = by_id(result)
    assert candidates["c01-local-small"].failure_reason.startswith("EndpointTimeout")
    assert "still Creating after 2 polls" in candidates["c01-local-small"].failure_reason
    assert candidates["c02-local-medium"].status == "succeeded", candidates["c02-local-medium"].failure_reason
    assert {"EndpointNotDeleted", "StartSweep"} <= set(result.execution.entered_states())
    started = fakes["stepfunctions"].started
    assert [s["Input"] for s in started] == [{"run_id": result.run_id, "candidate_id": "c01-local-small"}]
    assert started[0]["StateMachineArn"].endswith(":stateMachine:rightsizing-local-cleanup")
    [sweep] = result.sweeps
    assert sweep.status == "SUCCEEDED", sweep.cause
    sweep_states = sweep.entered_states()
    assert sweep_states.count("Sweep") >= 2 and "WaitBeforeSweeping" in sweep_states  # found Creating first
    swept = sweep.output["sweep"]
    endpoint = next(n for op, n in result.sagemaker_calls if op == "CreateEndpoint" and n.endswith("-c01"))
    # SageMaker forbids deleting a config or model while their endpoint is Creating: the sweep deleted all three.
    assert swept["done"] and set(swept["deleted"]) == {
        f"endpoint/{endpoint}",
        f"endpoint-config/{endpoint}",
        f"model/{endpoint}",
    }
    assert_everything_deleted(result)


# --- the execution stopped, timed out or failed mid-run: RunStoppedRule starts the cleanup state machine -------


def run_stopped_rule() -> dict[str, Any]:
    return load_template()["Resources"]["RunStoppedRule"]["Properties"]


def status_change_event(run_id: str, status: str, machine_arn: str) -> dict[str, Any]:
    """A "Step Functions Execution Status Change" event as EventBridge delivers it (Step Functions' docs)."""
    detail = {
        "executionArn": LOCAL_EXECUTION_ARN.format(run_id),
        "stateMachineArn": machine_arn,
        "name": run_id,
        "status": status,
        "startDate": 1767225600000,
        "stopDate": None if status == "RUNNING" else 1767225900000,
        "input": "{}",
        "output": None,
        "inputDetails": {"included": True},
        "outputDetails": None,
        "error": None,
        "cause": None,
    }
    if status in ("FAILED", "TIMED_OUT", "ABORTED"):
        ExecutionStatusChange.model_validate(detail)  # as the RunFailed function reads the same event
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [detail["executionArn"]],
        "detail": detail,
    }


def rule_input(event: dict[str, Any], machine_arn: str) -> dict[str, Any] | None:
    """What RunStoppedRule hands the cleanup state machine for ``event`` (None: the rule does not match): its
    pattern, with the stack's state machine ARN for ``!Ref``, matched by moto's EventBridge matcher, then its
    InputTransformer applied."""
    rule = run_stopped_rule()
    pattern = json.loads(
        json.dumps(rule["EventPattern"]).replace('{"Ref": "RightsizingStateMachine"}', json.dumps(machine_arn))
    )
    if not EventPattern.load(json.dumps(pattern)).matches_event(event):
        return None
    transformer = rule["Targets"][0]["InputTransformer"]
    assert transformer["InputPathsMap"] == {"run_id": "$.detail.name"}
    return json.loads(transformer["InputTemplate"].replace("<run_id>", json.dumps(event["detail"]["name"])))


MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:rightsizing"


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_the_rule_hands_a_stopped_run_to_the_sweeper(status: str) -> None:
    assert rule_input(status_change_event("run-1", status, MACHINE), MACHINE) == {"run_id": "run-1"}


SAMPLE_EVENT = Path(__file__).resolve().parents[2] / "events" / "functions" / "run-stopped-event.json"
# The event's shape (Step Functions developer guide, "EventBridge (CloudWatch Events) for Step Functions execution
# status changes"; inputDetails/outputDetails are CloudWatchEventsExecutionDataDetails).
ENVELOPE = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
DETAIL = {"executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "input", "inputDetails"}


@pytest.mark.parametrize("status", ["ABORTED", "FAILED", "TIMED_OUT"])
def test_the_sample_stopped_event_is_handed_to_the_sweeper(status: str) -> None:
    """events/functions/run-stopped-event.json, as Step Functions sends it, through RunStoppedRule: matched for the
    stack's state machine (its ``!Ref``), the cleanup input is the execution name; the RunFailed function reads the
    same detail."""
    event = json.loads(SAMPLE_EVENT.read_text())
    assert set(event) == ENVELOPE and set(event["detail"]) >= DETAIL
    assert event["source"] == "aws.states" and event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [event["detail"]["executionArn"]]
    assert event["detail"]["executionArn"].endswith(":" + event["detail"]["name"])
    event["detail"]["status"] = status
    machine = event["detail"]["stateMachineArn"]

    assert rule_input(event, machine) == {"run_id": "fraud-xgboost-20250101-120000"}
    assert ExecutionStatusChange.model_validate(event["detail"]).name == "fraud-xgboost-20250101-120000"
    assert rule_input(event, machine + "-other") is None  # another state machine's execution
    event["detail"]["status"] = "SUCCEEDED"
    assert rule_input(event, machine) is None


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED"])
def test_the_rule_leaves_running_and_finished_runs_alone(status: str) -> None:
    assert rule_input(status_change_event("run-1", status, MACHINE), MACHINE) is None
    other_machine = MACHINE.replace(":rightsizing", ":someone-else")
    assert rule_input(status_change_event("run-1", "ABORTED", other_machine), MACHINE) is None


def test_a_run_aborted_mid_test_is_swept_and_its_task_stopped(tmp_path: Path, fast_request: dict) -> None:
    """StopExecution while c01's load test runs: Step Functions stops the task; the status-change event, matched
    by RunStoppedRule, starts the cleanup state machine for that run id, which deletes the run's endpoint, config
    and model, and nothing of another run."""
    from rightsizing.models.plan import RUN_ID_TAG
    from rightsizing_local.model_server import ensure_builtin_model

    fast_request["candidates"] = [{"instance_type": "local.small"}]
    fakes: dict[str, Any] = {}
    stopped: list[str] = []
    other_run = "someone-elses-run"

    def keep(clients: dict[str, Any]) -> dict[str, Any]:
        fakes.update(clients)
        sagemaker = clients["sagemaker"]
        # Another run's resources, named and tagged as that run's: the sweep must not touch them.
        from rightsizing.models.plan import resource_name
        from rightsizing.store import local_uri

        name = resource_name(other_run, 1)
        tags = [{"Key": RUN_ID_TAG, "Value": other_run}]
        container = {"ModelDataUrl": local_uri(ensure_builtin_model()), "Environment": {}}
        sagemaker.create_model(ModelName=name, PrimaryContainer=container, Tags=tags)
        variant = {
            "VariantName": "AllTraffic",
            "ModelName": name,
            "InstanceType": "local.small",
            "InitialInstanceCount": 1,
        }
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], Tags=tags)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)
        return clients

    def progress(key: str, stage: str, detail: str) -> None:
        if stage == "probe" and not stopped:
            sfn = boto3.client("stepfunctions", region_name="us-east-1")  # moto's, while the run is executing
            [execution] = sfn.list_executions(stateMachineArn=MACHINE.replace(":rightsizing", ":rightsizing-local"))[
                "executions"
            ]
            stopped.append(execution["executionArn"])
            sfn.stop_execution(executionArn=execution["executionArn"], error="Operator", cause="stopped by a test")

    result = _run_with_progress(tmp_path, fast_request, progress, keep)

    assert stopped and result.execution.status == "ABORTED", (result.execution.error, result.execution.cause)
    event = status_change_event(result.run_id, result.execution.status, MACHINE)
    assert rule_input(event, MACHINE) == {"run_id": result.run_id}  # what run_local swept with
    [sweep] = result.sweeps
    assert sweep.status == "SUCCEEDED" and sweep.output["sweep"]["run_id"] == result.run_id
    mine = {n for op, n in result.sagemaker_calls if op == "CreateEndpoint" and other_run not in n}
    assert {d.split("/", 1)[1] for d in sweep.output["sweep"]["deleted"]} == mine
    other = fakes["sagemaker"]
    assert result.leftovers == {kind: [other.calls[0][1]] for kind in ("models", "endpoint_configs", "endpoints")}
    assert result.tasks_left == []
    [task] = fakes["ecs"]._tasks.values()
    assert task.stopped_reason == "Task stopped by AWS Step Functions: its execution ended while it ran"
    from pipeline_helpers import assert_no_process_left

    assert_no_process_left(result.process_groups)


def test_an_endpoint_that_never_becomes_deletable_is_given_up_and_named(tmp_path: Path, fast_request: dict) -> None:
    """Creating for good: the cleanup state machine sweeps until its limit (``${MaxSweeps}``, 36 on AWS, 3 here,
    1 s apart instead of 300) and fails with CleanupIncomplete, naming the endpoint, its config and its model and
    why each is left, so a person can delete them by hand."""
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    def stuck_for_good(clients: dict[str, Any]) -> dict[str, Any]:
        clients["sagemaker"].hold_in_creating("-c01", seconds=3600)
        return {**clients, "lambda": PlanOverride(clients["lambda"], max_polls=2, max_delete_attempts=2)}

    schedule = SweepSchedule(max_sweeps=3, interval_seconds=1)
    result = run(tmp_path, fast_request, stuck_for_good, sweep_schedule=schedule)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    assert by_id(result)["c01-local-small"].failure_reason.startswith("EndpointTimeout")
    [sweep] = result.sweeps
    assert sweep.status == "FAILED" and sweep.error == "CleanupIncomplete"
    states = sweep.entered_states()
    assert states.count("Sweep") == 3 and states.count("WaitBeforeSweeping") == 2 and states[-1] == "GiveUp"
    endpoint = next(n for op, n in result.sagemaker_calls if op == "CreateEndpoint")
    kept = "(kept until the endpoints of the run are deleted)"
    left = [f"endpoint/{endpoint} (Creating)", f"endpoint-config/{endpoint} {kept}", f"model/{endpoint} {kept}"]
    assert sweep.cause == (
        f"Resources of run {result.run_id} are still not deletable after 3 sweeps 1 seconds apart; delete them by "
        f"hand (endpoint first, then its config and model): {json.dumps(left, separators=(',', ':'))}"
    )
    assert result.cleanup_incomplete == [f"CleanupIncomplete: {sweep.cause}"]
    # What the machines left is exactly what the cause names (the local run's own shutdown then stops it).
    assert result.leftovers == {"models": [endpoint], "endpoint_configs": [endpoint], "endpoints": [endpoint]}
    assert result.tasks_left == []


def test_a_run_that_times_out_is_swept_and_says_so(tmp_path: Path, fast_request: dict) -> None:
    """The execution's TimeoutSeconds passes while c01's endpoint is still Creating: the run ends TIMED_OUT, and
    the status change (RunStoppedRule) starts the cleanup machine for the run id, which waits for the endpoint to
    become deletable and deletes it, its config and model. Nothing is left; the failure says it timed out."""
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    def slow_to_create(clients: dict[str, Any]) -> dict[str, Any]:
        clients["sagemaker"].hold_in_creating("-c01", seconds=8)  # then Failed: deletable
        return {**clients, "lambda": PlanOverride(clients["lambda"], max_polls=100)}

    schedule = SweepSchedule(max_sweeps=30, interval_seconds=1)
    result = run(tmp_path, fast_request, slow_to_create, execution_timeout_seconds=3, sweep_schedule=schedule)

    assert result.execution.status == "TIMED_OUT", (result.execution.error, result.execution.cause)
    message = execution_failure("TIMED_OUT", result.execution.error, result.execution.cause)[1]
    assert message.startswith("run TIMED_OUT: the execution ran longer than its TimeoutSeconds"), message
    assert "RunLoadTest" not in result.execution.entered_states() and result.result is None
    [sweep] = result.sweeps
    assert rule_input(status_change_event(result.run_id, "TIMED_OUT", MACHINE), MACHINE) == {"run_id": result.run_id}
    assert sweep.status == "SUCCEEDED", sweep.cause
    assert sweep.output["sweep"]["run_id"] == result.run_id and sweep.output["sweep"]["candidate_id"] is None
    assert sweep.entered_states().count("Sweep") >= 2  # found it Creating first
    assert result.cleanup_incomplete == []
    [announced] = [e for e in result.events if e["DetailType"] == "Rightsizing Failed"]
    assert announced["Detail"]["status"] == "TIMED_OUT"
    assert_everything_deleted(result)


def test_a_run_that_fails_mid_run_is_swept_and_says_why(tmp_path: Path, fast_request: dict) -> None:
    """An error no Catch can take (States.Runtime: a plan whose poll interval the definition cannot read, as a plan
    function and a definition of different versions would give) fails the Map, so the whole execution FAILED while
    c01's endpoint exists and c02's is coming up. The cleanup machine, started for the run id, deletes both
    candidates' endpoints, configs and models; no task is left; the error names the state and the field."""
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]

    def unreadable_plan(clients: dict[str, Any]) -> dict[str, Any]:
        clients["sagemaker"].hold_in_creating("-c01", seconds=2)  # Creating at its first poll: the Wait reads it
        plan = PlanOverride(clients["lambda"], only="-small", max_polls=100, poll_seconds="soon")
        return {**clients, "lambda": plan}

    schedule = SweepSchedule(max_sweeps=30, interval_seconds=1)
    result = run(tmp_path, fast_request, unreadable_plan, sweep_schedule=schedule)

    assert result.execution.status == "FAILED", result.execution.cause
    assert result.execution.error == "States.Runtime", result.execution.cause
    cause = result.execution.cause or ""
    assert "'WaitForEndpoint'" in cause and "$.candidate.poll_seconds == soon" in cause, cause
    assert execution_failure("FAILED", result.execution.error, cause)[1] == f"run FAILED: States.Runtime: {cause}"
    [sweep] = result.sweeps
    assert sweep.status == "SUCCEEDED", sweep.cause
    assert rule_input(status_change_event(result.run_id, "FAILED", MACHINE), MACHINE) == {"run_id": result.run_id}
    created = {n for op, n in result.sagemaker_calls if op == "CreateEndpoint"}
    assert any(n.endswith("-c01") for n in created)
    swept = {d.split("/", 1)[1] for d in sweep.output["sweep"]["deleted"] if not d.startswith("task/")}
    assert swept <= created
    [announced] = [e for e in result.events if e["DetailType"] == "Rightsizing Failed"]
    assert announced["Detail"]["error"] == "States.Runtime"
    assert_everything_deleted(result)
