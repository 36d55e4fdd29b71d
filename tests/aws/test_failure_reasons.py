"""Caught failures become one short reason a person can act on, and what the Map collects stays under the 256 KB
Step Functions allows a state (States.DataLimitExceeded otherwise), even with 40 candidates all failing with long
causes."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from conftest import FUNCTION_EVENTS, REPO

from rightsizing.models.plan import CandidatePlan, RunPlan
from rightsizing.models.result import StepFailure
from rightsizing.steps.collect import CollectInput, collect_metrics
from rightsizing.steps.failures import MAX_REASON_CHARS, RUN_TASK_HINTS, describe_failure
from rightsizing.steps.recommend import RecommendInput

STATE_LIMIT = 256 * 1024
DEFINITION = json.loads((REPO / "statemachine" / "rightsizing.asl.json").read_text())
ITERATION = DEFINITION["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"]
LOG_GROUP = "/aws/rightsizing/loadtest"


def stopped_task(exit_code: int | None, reason: str, padding: int = 0) -> dict[str, Any]:
    """DescribeTasks' task as runTask.sync puts it in a States.TaskFailed cause (PascalCase), ``padding`` bytes of
    attachment details making it as long as real ones get (ENI details, overrides, tags)."""
    container: dict[str, Any] = {"Name": "locust", "LastStatus": "STOPPED", "Image": "1.dkr.ecr/x:1"}
    if exit_code is not None:
        container["ExitCode"] = exit_code
    if reason:
        container["Reason"] = reason
    return {
        "TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/rightsizing/0123456789abcdef",
        "LastStatus": "STOPPED",
        "StopCode": "EssentialContainerExited" if exit_code is not None else "TaskFailedToStart",
        "StoppedReason": "Essential container in task exited" if exit_code is not None else reason,
        "Containers": [container],
        "Attachments": [{"Type": "ElasticNetworkInterface", "Details": [{"Name": "x", "Value": "v" * padding}]}],
        "Overrides": {
            "ContainerOverrides": [{"Name": "locust", "Environment": [{"Name": "JOB_URI", "Value": "s3://"}]}]
        },
    }


def _failure(**fields: Any) -> StepFailure:
    return StepFailure.model_validate(fields)


def test_a_load_test_that_stopped_is_described_by_its_stop_code_and_exit_codes() -> None:
    failure = _failure(Error="LoadTestFailed", Cause=json.dumps(stopped_task(1, "", 50_000)), LogGroup=LOG_GROUP)
    reason = describe_failure(failure)
    assert reason == (
        "LoadTestFailed: the load-test task stopped (EssentialContainerExited: Essential container in task "
        f"exited); container locust exited 1; its log is in CloudWatch Logs group {LOG_GROUP}"
    )


def test_a_task_that_never_started_says_why() -> None:
    pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
    reason = describe_failure(_failure(Error="LoadTestFailed", Cause=json.dumps(stopped_task(None, pull))))
    assert f"(TaskFailedToStart: {pull})" in reason and "container locust never ran" in reason


@pytest.mark.parametrize(
    ("error", "message", "expected"),
    [
        (
            "ECS.AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/sm/x is not authorized to perform: ecs:TagResource",
            "ecs:TagResource",
        ),
        ("ECS.InvalidParameterException", "subnet-0abc does not exist", "LoadTestSubnetIds"),
        ("AmazonECS.Unknown", '[{"Reason": "Capacity is unavailable at this time"}]', "no Fargate capacity"),
    ],
)
def test_run_task_errors_are_not_called_a_failed_load_test(error: str, message: str, expected: str) -> None:
    reason = describe_failure(_failure(Error="LoadTestNotStarted", RunTaskError=error, Cause=message))
    assert reason.startswith(f"LoadTestNotStarted: RunTask did not start the load-test task ({error}: {message})")
    assert expected in reason


def test_every_run_task_error_botocore_models_is_caught_as_not_started_before_task_failed() -> None:
    # States.TaskFailed in a Catch matches every error but States.Timeout: RunTask's own errors must be caught
    # first, or a refused RunTask reads as "the load-test task failed".
    run_task = boto3.client("ecs", region_name="us-east-1").meta.service_model.operation_model("RunTask")
    modelled = {f"ECS.{shape.name}" for shape in run_task.error_shapes}
    catches = ITERATION["RunLoadTest"]["Catch"]
    targets = [c["Next"] for c in catches]
    not_started = catches[targets.index("LoadTestNotStarted")]["ErrorEquals"]
    assert targets.index("LoadTestNotStarted") < targets.index("LoadTestTaskFailed")
    assert modelled - {"ECS.ConflictException"} <= set(not_started)  # Conflict: clientToken reuse, never sent
    assert {"ECS.AmazonECSException", "AmazonECS.Unknown"} <= set(not_started)
    assert set(not_started) <= set(RUN_TASK_HINTS)
    assert ITERATION["LoadTestNotStarted"]["Parameters"]["RunTaskError.$"] == "$.outcome.Error"


def test_an_endpoint_failure_keeps_sagemakers_reason_not_the_whole_description() -> None:
    description = {"EndpointStatus": "Failed", "FailureReason": "The primary container did not pass the ping"}
    description["ProductionVariants"] = [{"VariantName": "AllTraffic", "x": "y" * 20_000}]
    failure = _failure(Error="EndpointFailed", Cause="endpoint rightsize-x-c01 reached status Failed")
    reason = describe_failure(StepFailure.model_validate({**failure.model_dump(), "Details": description}))
    assert reason == (
        "EndpointFailed: endpoint rightsize-x-c01 reached status Failed (The primary container did not pass the ping)"
    )


def test_a_refused_marketplace_model_points_at_network_isolation() -> None:
    cause = "Network isolation must be enabled for model packages from AWS Marketplace (Service: AmazonSageMaker)"
    reason = describe_failure(_failure(Error="SageMaker.AmazonSageMakerException", Cause=cause))
    assert reason.endswith("AWS Marketplace model packages need model.network_isolation: true")


def test_no_reason_is_longer_than_the_bound() -> None:
    lambda_cause = json.dumps({"errorType": "StoreError", "errorMessage": "x" * 50_000, "stackTrace": ["y" * 9000]})
    for failure in (
        _failure(Error="StoreError", Cause=lambda_cause),
        _failure(Error="States.Timeout", Cause="z" * 300_000),
        _failure(Error="LoadTestNotStarted", RunTaskError="ECS.ClientException", Cause="w" * 100_000),
    ):
        assert len(describe_failure(failure)) <= MAX_REASON_CHARS


def _plan_of_40() -> RunPlan:
    """The plan step's output for 40 candidates with a few tags, as events/functions/ holds one of."""
    one = json.loads((FUNCTION_EVENTS / "collect_metrics.json").read_text())["candidate"]
    candidates = []
    for index in range(1, 41):
        candidate = {**one, "candidate_id": f"c{index:02d}-ml-c5-xlarge-abcdef", "environment": {"W": str(index)}}
        candidates.append(CandidatePlan.model_validate(candidate))
    return RunPlan(run_id=one["run_id"], run_uri="s3://b/runs/r", max_concurrency=40, candidates=candidates)


# The context object (``$$``) as far as the definition reads it.
CONTEXT = {"State": {"EnteredTime": "2026-05-04T10:30:00.123Z"}}


def _path(document: Any, path: str) -> Any:
    """A simple JSONPath (``$.a.b``, or ``$$.a.b`` into the context object), as the definition's Parameters use them."""
    if path.startswith("$$."):
        document, path = CONTEXT, path[1:]
    for part in re.findall(r"[A-Za-z_]+", path.removeprefix("$")):
        document = document[part]
    return document


def _parameters(template: Any, state: Any) -> Any:
    """A Pass or Task state's Parameters applied to its input (paths only; no intrinsic functions)."""
    if isinstance(template, dict):
        return {
            key.removesuffix(".$"): _path(state, value) if key.endswith(".$") else _parameters(value, state)
            for key, value in template.items()
        }
    return template


def _iteration_output(candidate: CandidatePlan, failure: StepFailure) -> Any:
    """One failed iteration as the definition builds it: the failure recorded by CollectMetrics (RecordFailure),
    a refused delete handed to the sweeper (EndpointNotDeleted), then CandidateDone."""
    times = {"endpoint_created": {"at": "2026-05-04T10:00:00Z"}, "load_test": stopped_task(137, "x", 20_000)}
    record = _parameters(
        ITERATION["RecordFailure"]["Parameters"],
        {
            "candidate": candidate.model_dump(mode="json"),
            "outcome": failure.model_dump(),
            "times": times,
            "polls": {"count": 120},
            "deletes": {"count": 120},
        },
    )
    nothing_written = SimpleNamespace(store=SimpleNamespace(exists=lambda uri: False))  # no error.json either
    outcome = collect_metrics(CollectInput.model_validate(record), backend=nothing_written)  # type: ignore[arg-type]
    last_error = {"Error": "SageMaker.SageMakerException", "Cause": "Cannot delete endpoint while Creating " * 30}
    state = {
        "candidate": candidate.model_dump(mode="json"),
        "outcome": outcome.model_dump(mode="json"),
        "leak": {"endpoint": candidate.endpoint_name, "attempts": 120, "last_error": last_error, "sweep": {}},
        "endpoint": {"Description": {"padding": "p" * 50_000}},  # the iteration's own state is not collected
    }
    return _parameters(ITERATION["CandidateDone"]["Parameters"], state)


def test_forty_candidates_failing_with_long_causes_stay_under_the_state_limit() -> None:
    plan = _plan_of_40()
    # What PlanRun leaves for the Map (its ResultSelector), then the Map replacing the plans by the outcomes.
    state = _parameters(DEFINITION["States"]["PlanRun"]["ResultSelector"], plan.model_dump(mode="json"))
    assert len(json.dumps(state)) < STATE_LIMIT
    long_causes = [
        _failure(Error="LoadTestFailed", Cause=json.dumps(stopped_task(137, "OutOfMemoryError", 60_000)), LogGroup="g"),
        _failure(
            Error="EndpointFailed",
            Cause="endpoint x reached status Failed",
            Details={"FailureReason": "r" * 1024, "x": "d" * 9000},
        ),
        _failure(Error="LoadTestNotStarted", RunTaskError="ECS.AccessDeniedException", Cause="m" * 20_000),
        _failure(
            Error="CollectMetricsFailed", Cause=json.dumps({"errorMessage": "e" * 30_000, "stackTrace": ["s" * 5000]})
        ),
    ]
    outcomes = [_iteration_output(c, long_causes[i % len(long_causes)]) for i, c in enumerate(plan.candidates)]
    assert (
        DEFINITION["States"]["BenchmarkCandidates"]["ResultPath"]
        == DEFINITION["States"]["BenchmarkCandidates"]["ItemsPath"]
    )
    state["candidates"] = outcomes  # ResultPath: each plan replaced by its outcome
    after_map = json.dumps(state)
    assert len(after_map) < STATE_LIMIT // 2, len(after_map)
    recommend_input = _parameters(DEFINITION["States"]["Recommend"]["Parameters"], state)
    assert len(json.dumps(recommend_input)) < STATE_LIMIT // 2
    parsed = RecommendInput.model_validate(recommend_input)  # and the Recommend step still reads it
    assert all(o.outcome.status == "failed" for o in parsed.outcomes)  # type: ignore[union-attr]


def test_a_killed_load_generator_is_called_killed_and_its_own_message_comes_first() -> None:
    killed = StepFailure(Error="LoadTestFailed", Cause=json.dumps(stopped_task(137, "")), LogGroup=LOG_GROUP)
    assert "container locust exited 137 (killed by SIGKILL, e.g. out of memory)" in describe_failure(killed)
    failed = StepFailure(Error="LoadTestFailed", Cause=json.dumps(stopped_task(1, "")), LogGroup=LOG_GROUP)
    reason = describe_failure(failed, "endpoint x stopped answering mid-test")
    assert reason.startswith("LoadTestFailed: endpoint x stopped answering mid-test; the load-test task stopped (")


def test_collect_reads_the_generators_message_for_a_failed_load_test(tmp_path: Any) -> None:
    from rightsizing.models.result import LOAD_TEST_FAILURE_FILE
    from rightsizing.store import LocalStore, local_uri, put_json
    from rightsizing_local.backend import local_backend
    from rightsizing_local.fake_sagemaker import LocalSageMaker

    event = json.loads((FUNCTION_EVENTS / "collect_metrics.json").read_text())
    candidate = CandidatePlan.model_validate(event["candidate"]).model_copy(update={"results_uri": local_uri(tmp_path)})
    put_json(f"{local_uri(tmp_path)}/{LOAD_TEST_FAILURE_FILE}", {"message": "no capacity: it died"}, LocalStore())
    failure = {"Error": "LoadTestFailed", "Cause": json.dumps(stopped_task(1, "")), "LogGroup": LOG_GROUP}
    backend = local_backend(LocalSageMaker(tmp_path))

    result = collect_metrics(CollectInput(candidate=candidate, failure=failure), backend)

    assert result.failure_reason is not None and result.failure_reason.startswith(
        "LoadTestFailed: no capacity: it died;"
    )
