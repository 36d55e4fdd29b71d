"""The real ASL definition executed locally: real model servers, real Locust, faults injected at the fakes.

Every test asserts that the state machine itself deleted every endpoint, endpoint config and model it created
(helpers in tests/integration/pipeline_helpers.py). Retry back-offs are scaled down (``retry_time_scale``) so
retried errors take milliseconds; Wait states use the plan's 1 s local poll interval.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from pipeline_helpers import (
    PlanOverride,
    Proxy,
    assert_everything_deleted,
    assert_no_process_left,
    by_id,
    run,
)

from rightsizing.history_budget import run_events
from rightsizing_local.aws_errors import client_error


def test_success_path_measures_deletes_then_collects(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]
    fast_request["traffic"] = {"min_rps": 150}
    result = run(tmp_path, fast_request)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    states = result.execution.entered_states()
    assert states[:6] == [
        "PlanRun",
        "BenchmarkCandidates",
        "StartCandidate",
        "IsWithinBudget",
        "IsExistingEndpoint",
        "CreateModel",
    ]
    # Metrics are read after the endpoint is gone: CloudWatch keeps them, and the endpoint stops billing sooner.
    assert states.index("DeleteModel") < states.index("CollectMetrics") < states.index("Recommend")
    candidate = by_id(result)["c01-local-small"]
    assert candidate.status == "succeeded"
    assert candidate.sustainable_rps and candidate.sustainable_rps > 10
    assert "CPUUtilization" in candidate.server_metrics
    recommendation = result.result.recommendation  # type: ignore[union-attr]
    assert recommendation is not None and recommendation.instance_type == "local.small"
    assert recommendation.capacity_rps >= 150
    for name in (
        "result.json",
        "results.csv",
        "request.json",
        "candidates/c01-local-small/locust_stats.csv",
        "candidates/c01-local-small/trace.json",
    ):
        assert (result.run_dir / name).is_file(), name
    assert result.events and result.events[0]["Detail"]["instance_type"] == "local.small"
    polls = states.count("DescribeEndpoint")
    assert len(result.execution.history) <= run_events(1, polls, 1), "history-event estimate too low"
    assert_everything_deleted(result)


def test_quota_refusal_is_retried_then_fails_only_that_candidate(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]

    class QuotaZeroForMedium(Proxy):
        def create_endpoint(self, **kwargs: Any) -> dict:
            if kwargs["EndpointName"].endswith("-c02"):
                self.inner.calls.append(("CreateEndpoint", kwargs["EndpointName"]))
                raise client_error(
                    "CreateEndpoint",
                    "The account-level service limit 'local.medium for endpoint usage' is 0 Instances",
                    "ResourceLimitExceeded",
                )
            return self.inner.create_endpoint(**kwargs)

    result = run(tmp_path, fast_request, lambda c: {**c, "sagemaker": QuotaZeroForMedium(c["sagemaker"])})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidates = by_id(result)
    assert candidates["c01-local-small"].status == "succeeded"
    failed = candidates["c02-local-medium"]
    assert failed.status == "failed"
    assert failed.failure_reason is not None
    assert failed.failure_reason.startswith("SageMaker.ResourceLimitExceededException")  # the name AWS uses
    assert "service limit" in failed.failure_reason
    attempts = [n for op, n in result.sagemaker_calls if op == "CreateEndpoint" and n.endswith("-c02")]
    assert len(attempts) == 4  # the first call and the definition's 3 retries
    deletes = [op for op, n in result.sagemaker_calls if n.endswith("-c02") and op.startswith("Delete")]
    assert deletes == ["DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"]
    assert result.result is not None and result.result.recommendation is not None
    assert result.result.recommendation.instance_type == "local.small"
    assert_everything_deleted(result)


def test_throttled_create_is_retried_and_succeeds(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    class ThrottledOnce(Proxy):
        throttled = False

        def create_model(self, **kwargs: Any) -> dict:
            if not self.throttled:
                self.throttled = True
                self.inner.calls.append(("CreateModel(throttled)", kwargs["ModelName"]))
                raise client_error("CreateModel", "Rate exceeded", "ThrottlingException")
            return self.inner.create_model(**kwargs)

    result = run(tmp_path, fast_request, lambda c: {**c, "sagemaker": ThrottledOnce(c["sagemaker"])})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    assert by_id(result)["c01-local-small"].status == "succeeded"
    assert [op for op, _ in result.sagemaker_calls][:2] == ["CreateModel(throttled)", "CreateModel"]
    assert_everything_deleted(result)


def test_endpoint_that_goes_failed_is_reported_and_deleted(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    class BrokenArtefact(Proxy):
        def create_model(self, **kwargs: Any) -> dict:
            container = {**kwargs["PrimaryContainer"], "ModelDataUrl": (tmp_path / "missing.joblib").as_uri()}
            return self.inner.create_model(**{**kwargs, "PrimaryContainer": container})

    result = run(tmp_path, fast_request, lambda c: {**c, "sagemaker": BrokenArtefact(c["sagemaker"])})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    failed = by_id(result)["c01-local-small"]
    assert failed.status == "failed"
    assert failed.failure_reason is not None and failed.failure_reason.startswith("EndpointFailed")
    assert "model server exited" in failed.failure_reason
    assert "RunLoadTest" not in result.execution.entered_states()
    assert result.result is not None and result.result.recommendation is None
    assert_everything_deleted(result)


def test_endpoint_wait_timeout_deletes_once_creating_ends(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    def stuck(clients: dict[str, Any]) -> dict[str, Any]:
        clients["sagemaker"].hold_in_creating("-c01", seconds=8)  # Creating for 8 s, then Failed
        return {**clients, "lambda": PlanOverride(clients["lambda"], max_polls=3, max_delete_attempts=30)}

    result = run(tmp_path, fast_request, stuck)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    failed = by_id(result)["c01-local-small"]
    assert failed.status == "failed"
    assert failed.failure_reason is not None and failed.failure_reason.startswith("EndpointTimeout")
    assert "still Creating after 3 polls" in failed.failure_reason
    states = result.execution.entered_states()
    assert "RunLoadTest" not in states
    # SageMaker refused DeleteEndpoint while the endpoint was Creating; the loop waited and tried again.
    assert states.count("DeleteEndpoint") > 1 and "WaitBeforeDeleteRetry" in states
    assert "EndpointNotDeleted" not in states
    assert_everything_deleted(result)


def test_load_test_that_exits_non_zero_fails_its_candidate(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    class UnreadableJob(Proxy):
        def run_task(self, **kwargs: Any) -> dict:
            overrides = kwargs["Overrides"]
            environment = [
                {**item, "Value": (tmp_path / "no-such-job.json").as_uri()} if item["Name"] == "JOB_URI" else item
                for item in overrides["ContainerOverrides"][0]["Environment"]
            ]
            container = {**overrides["ContainerOverrides"][0], "Environment": environment}
            return self.inner.run_task(**{**kwargs, "Overrides": {"ContainerOverrides": [container]}})

    result = run(tmp_path, fast_request, lambda c: {**c, "ecs": UnreadableJob(c["ecs"])})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    failed = by_id(result)["c01-local-small"]
    assert failed.status == "failed"
    # As on AWS, runTask.sync itself fails (States.TaskFailed) when the container exits non-zero; the reason keeps
    # the stopped task's stop code and exit code, not its whole description.
    assert failed.failure_reason is not None and failed.failure_reason.startswith(
        "LoadTestFailed: the load-test task stopped (EssentialContainerExited: Essential container in task exited); "
        "container locust exited 1; its log is in CloudWatch Logs group"
    )
    states = result.execution.entered_states()
    assert "LoadTestTaskFailed" in states and "CollectMetrics" not in states and "RecordFailure" in states


def test_run_task_refused_is_not_called_a_failed_load_test(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]
    ecs_api = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    denied = "User: arn:aws:sts::123456789012:assumed-role/sfn/x is not authorized to perform: ecs:TagResource"

    class TagOnCreateDenied(Proxy):
        def run_task(self, **kwargs: Any) -> dict:
            response = {"Error": {"Code": "AccessDeniedException", "Message": denied}, "ResponseMetadata": {}}
            raise ecs_api.exceptions.AccessDeniedException(response, "RunTask")  # modelled, as botocore raises it

    result = run(tmp_path, fast_request, lambda c: {**c, "ecs": TagOnCreateDenied(c["ecs"])})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    failed = by_id(result)["c01-local-small"]
    assert failed.failure_reason is not None and failed.failure_reason.startswith(
        f"LoadTestNotStarted: RunTask did not start the load-test task (ECS.AccessDeniedException: {denied}"
    )
    assert "ecs:TagResource" in failed.failure_reason.split(")", 2)[-1]  # the hint, not only the message
    states = result.execution.entered_states()
    assert "LoadTestNotStarted" in states and "LoadTestTaskFailed" not in states
    assert_everything_deleted(result)
    assert_everything_deleted(result)


@pytest.mark.slow
def test_existing_endpoint_is_measured_but_never_created_or_deleted(tmp_path: Path, fast_request: dict) -> None:
    from rightsizing.store import local_uri
    from rightsizing_local.model_server import ensure_builtin_model

    fast_request["candidates"] = [{"instance_type": "local.small", "endpoint_name": "prod-fraud"}]

    def deployed(clients: dict[str, Any]) -> dict[str, Any]:
        clients["sagemaker"].start_existing_endpoint("prod-fraud", "local.small", local_uri(ensure_builtin_model()))
        return clients

    result = run(tmp_path, fast_request, deployed)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    assert by_id(result)["c01-local-small"].status == "succeeded"
    assert result.sagemaker_calls == []  # no Create*, no Delete*: DescribeEndpoint is not audited
    states = result.execution.entered_states()
    assert "CreateModel" not in states and "DeleteEndpoint" not in states and "RunLoadTest" in states
    assert result.leftovers == {name: ["prod-fraud"] for name in ("models", "endpoint_configs", "endpoints")}
    assert_no_process_left(result.process_groups)


def test_existing_endpoint_that_does_not_exist_is_refused_before_anything_starts(
    tmp_path: Path, fast_request: dict
) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small", "endpoint_name": "no-such-endpoint"}]
    result = run(tmp_path, fast_request)
    assert result.execution.status == "FAILED" and result.execution.error == "InvalidRequest"
    assert "'no-such-endpoint' does not exist" in (result.execution.cause or "")
    assert result.sagemaker_calls == []


def test_invalid_request_fails_at_plan_and_creates_nothing(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.nonexistent"}]
    result = run(tmp_path, fast_request)
    assert result.execution.status == "FAILED"
    assert result.execution.error == "InvalidRequest"
    assert "unknown local profile 'local.nonexistent'" in (result.execution.cause or "")
    assert result.sagemaker_calls == []


CTRL_C_SCRIPT = """
import json, os, signal, sys
from pathlib import Path
from rightsizing.models.request import RightsizingRequest
from rightsizing_local.run import run_local

# A shell starting a job in the background (`cmd &`, as CI runners may) makes it ignore SIGINT, and Python then
# keeps it ignored; an interactive Ctrl-C always has Python's KeyboardInterrupt handler, so install it.
signal.signal(signal.SIGINT, signal.default_int_handler)
request = RightsizingRequest.model_validate_json(Path(sys.argv[1]).read_text())
seen, fakes = [], {}

def progress(key, stage, detail):
    seen.append(stage)
    if stage == "probe" and seen.count("probe") == 1:
        os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT, as Ctrl-C sends

def keep(clients):
    fakes.update(clients)
    return clients

interrupted = False
try:
    run_local(request, Path(sys.argv[2]), progress=progress, wrap_clients=keep)
except KeyboardInterrupt:
    interrupted = True
groups = fakes["sagemaker"].process_groups + fakes["ecs"].process_groups
print(json.dumps({"interrupted": interrupted, "seen": seen, "groups": groups}))
"""


def test_ctrl_c_stops_every_server_and_generator(tmp_path: Path, fast_request: dict) -> None:
    """In its own interpreter, with Python's SIGINT handler installed (see the script): independent of how the
    test run itself was started."""
    fast_request["candidates"] = [{"instance_type": "local.small"}]
    request_path = tmp_path / "request.json"
    request_path.write_text(json.dumps(fast_request))

    completed = subprocess.run(
        [sys.executable, "-c", CTRL_C_SCRIPT, str(request_path), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    out = json.loads(completed.stdout.strip().splitlines()[-1])
    assert out["interrupted"], f"the run ended without being interrupted; stages seen: {out['seen']}"
    assert "in_service" in out["seen"] and "probe" in out["seen"]
    assert len(out["groups"]) == 2  # one model server, one load generator
    assert_no_process_left(out["groups"])


class RefusedCreateModel(Proxy):
    """Every candidate fails at once (no server, no load test): the quickest way to reach the run's last states."""

    def create_model(self, **kwargs: Any) -> dict:
        raise client_error("CreateModel", "Could not access model data", "ValidationException")


class FailingFunction(Proxy):
    """The named step's Lambda function fails as Lambda reports it (FunctionError + errorType)."""

    def __init__(self, inner: Any, step: str) -> None:
        super().__init__(inner)
        self.step = step

    def invoke(self, FunctionName: str, Payload: bytes | str | None = None, **kwargs: Any) -> dict:
        if not FunctionName.endswith(f"-{self.step}"):
            return self.inner.invoke(FunctionName=FunctionName, Payload=Payload, **kwargs)
        body = {"errorType": "StoreError", "errorMessage": "cannot write result.json: AccessDenied"}
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}


def test_a_failed_summary_fails_the_run_and_is_announced(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    def wrap(clients: dict[str, Any]) -> dict[str, Any]:
        return {
            **clients,
            "sagemaker": RefusedCreateModel(clients["sagemaker"]),
            "lambda": FailingFunction(clients["lambda"], "recommend"),
        }

    result = run(tmp_path, fast_request, wrap)

    assert result.execution.status == "FAILED" and result.execution.error == "RunNotSummarised"
    states = result.execution.entered_states()
    assert states[-2:] == ["Recommend", "RunNotSummarised"]
    [event] = result.events  # as RunFailedRule announces it on AWS; nothing from the state machine
    assert event["DetailType"] == "Rightsizing Failed"
    detail = event["Detail"]
    assert detail["run_id"] == result.run_id and detail["error"] == "RunNotSummarised"
    assert detail["model_key"] == "local/fraud-classifier" and detail["status"] == "FAILED"
    assert result.leftovers == {"models": [], "endpoint_configs": [], "endpoints": []}
    assert not (tmp_path / "history.jsonl").exists()  # not summarised: not recorded


class RefusingBus(Proxy):
    """EventBridge accepts the call but not the entry: FailedEntryCount 1, no exception."""

    attempts = 0

    def put_events(self, Entries: list[dict[str, Any]], **_: Any) -> dict:
        self.attempts += 1
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}]}


def test_an_event_that_cannot_be_sent_does_not_fail_a_finished_run(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]
    bus: dict[str, RefusingBus] = {}

    def wrap(clients: dict[str, Any]) -> dict[str, Any]:
        bus["events"] = RefusingBus(clients["events"])
        return {**clients, "sagemaker": RefusedCreateModel(clients["sagemaker"]), "events": bus["events"]}

    result = run(tmp_path, fast_request, wrap)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    assert bus["events"].attempts == 4  # the first try and the definition's 3 retries
    summary = result.execution.output
    assert summary["event_error"]["Error"] == "EventBridge.FailedEntry"
    assert summary["result_uri"].endswith("/result.json") and result.result is not None


def test_forty_failed_candidates_with_long_causes_leave_a_small_state(tmp_path: Path, fast_request: dict) -> None:
    """Step Functions fails a run whose state passes 256 KB (moto does not): measure the Recommend step's input."""
    grid = {"SAGEMAKER_MODEL_SERVER_WORKERS": [str(n) for n in range(1, 41)]}
    fast_request["candidates"] = [{"instance_type": "local.small", "environment_grid": grid}]
    fast_request["limits"]["max_parallel_candidates"] = 40
    long_message = "Could not access model data: " + "x" * 20_000

    class LongRefusal(Proxy):
        def create_model(self, **kwargs: Any) -> dict:
            raise client_error("CreateModel", long_message, "ValidationException")

    result = run(tmp_path, fast_request, lambda c: {**c, "sagemaker": LongRefusal(c["sagemaker"])})

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    assert result.result is not None and len(result.result.candidates) == 40
    assert all(len(c.failure_reason or "") <= 1000 for c in result.result.candidates)
    [recommend] = [
        e for e in result.execution.history if e.get("stateEnteredEventDetails", {}).get("name") == "Recommend"
    ]
    size = len(recommend["stateEnteredEventDetails"]["input"].encode())
    assert size < 128 * 1024, size  # 40 x 20 KB causes would be 800 KB


@pytest.mark.slow
def test_two_runs_of_a_model_are_recorded_listed_and_compared(tmp_path: Path, fast_request: dict) -> None:
    from typer.testing import CliRunner

    from rightsizing_cli.main import app

    fast_request["candidates"] = [{"instance_type": "local.small"}]
    fast_request["traffic"] = {"min_rps": 50}
    first = run(tmp_path, fast_request)
    second = run(tmp_path, {**fast_request, "traffic": {"min_rps": 120}})  # a higher target: more instances, maybe
    assert first.execution.status == second.execution.status == "SUCCEEDED", second.execution.cause
    completed = second.events[0]
    assert completed["DetailType"] == "Rightsizing Completed"
    assert completed["Detail"]["previous_run_id"] == first.run_id
    assert completed["Detail"]["model_key"] == "local/fraud-classifier"
    assert [e["DetailType"] for e in second.events][1:] == (
        ["Recommendation Changed"] if completed["Detail"]["recommendation_changed"] else []
    )

    runner = CliRunner()
    listed = runner.invoke(app, ["history", "local/fraud-classifier", "--dir", str(tmp_path), "--output", "json"])
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)["runs"]
    assert [r["run_id"] for r in runs] == [second.run_id, first.run_id]
    assert runs[0]["request_hash"] != runs[1]["request_hash"]
    assert runs[0]["candidates"][0]["sustainable_rps"] > 0 and runs[0]["artifacts"]["report"].endswith("report.html")
    text = runner.invoke(app, ["history", "local/fraud-classifier", "--dir", str(tmp_path)])
    assert text.exit_code == 0 and first.run_id in text.output and "local.small" in text.output

    compared = runner.invoke(app, ["compare", first.run_id, second.run_id, "--dir", str(tmp_path), "--output", "json"])
    assert compared.exit_code == 0, compared.output
    comparison = json.loads(compared.stdout)
    assert comparison["same_model"] and comparison["request_changed"]
    [row] = comparison["candidates"]
    assert row["instance_type"] == "local.small" and all(rps > 0 for rps in row["sustainable_rps"])
    shown = runner.invoke(app, ["compare", first.run_id, second.run_id, "--dir", str(tmp_path)])
    assert shown.exit_code == 0 and "Per instance type" in shown.output
    unknown = runner.invoke(app, ["compare", first.run_id, "no-such-run", "--dir", str(tmp_path)])
    assert unknown.exit_code == 2 and "no-such-run" in unknown.output
