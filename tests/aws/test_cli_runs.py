"""``rightsize start/status/cancel/list/report`` against a faked AWS: Step Functions and S3 in moto, the stack's
DescribeStacks under botocore's Stubber (moto's CloudFormation needs packages the project does not install).

The cleanup after a cancel is started here as RunStoppedRule would start it: its event pattern and input
transformer are read from template.yaml and applied to the status-change event EventBridge sends.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from cfn_template import CfnLoader
from moto import mock_aws
from stack_stubs import STACK, describe_stacks_response, stubbed_cloudformation
from typer.testing import CliRunner

from rightsizing.models.request import parse_request
from rightsizing.models.result import CandidateResult, Recommendation, RunResult
from rightsizing.models.targets import LatencySla, TrafficTarget
from rightsizing_cli import aws_context
from rightsizing_cli.main import app

REPO = Path(__file__).resolve().parents[2]
REQUEST = REPO / "events" / "aws-fraud-tabular.json"
BUCKET = "rightsizing-results-test"
ROLE = "arn:aws:iam::123456789012:role/states"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
runner = CliRunner()


@dataclass
class FakeStack:
    sfn: Any
    s3: Any
    machine: str
    cleanup_machine: str
    cfn: Stubber

    def expect_describe(self) -> None:
        """One DescribeStacks per command (each builds one context)."""
        outputs = {
            "StateMachineArn": self.machine,
            "CleanupStateMachineArn": self.cleanup_machine,
            "ResultsBucketName": BUCKET,
        }
        self.cfn.add_response("describe_stacks", describe_stacks_response(outputs), {"StackName": STACK})

    def invoke(self, *args: str) -> Any:
        self.expect_describe()
        return runner.invoke(app, list(args))


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeStack]:
    monkeypatch.chdir(tmp_path)  # no samconfig.toml here: the default stack name; downloads land in tmp_path
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(name="Rightsizing", definition=DEFINITION, roleArn=ROLE)
        cleanup = sfn.create_state_machine(name="RightsizingCleanup", definition=DEFINITION, roleArn=ROLE)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        with stubbed_cloudformation(monkeypatch) as stubber:
            yield FakeStack(sfn, s3, machine["stateMachineArn"], cleanup["stateMachineArn"], stubber)


def _json(result: Any) -> Any:
    assert result.stdout.strip(), result.output
    return json.loads(result.stdout)


def _started(stack: FakeStack, *extra: str) -> dict[str, Any]:
    result = stack.invoke("start", str(REQUEST), "--output", "json", *extra)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = _json(result)
    return document


# --- start ---


def test_start_names_the_run_after_the_request_and_sends_it_canonically(stack: FakeStack) -> None:
    document = _started(stack)
    execution = stack.sfn.describe_execution(executionArn=document["execution_arn"])
    sent = execution["input"]
    digest = hashlib.sha256(sent.encode()).hexdigest()[:12]
    assert document["run_id"] == execution["name"] == f"fraud-xgboost-{digest}"
    assert document["already_running"] is False and execution["status"] == "RUNNING"
    request = json.loads(sent)
    assert request["name"] == "fraud-xgboost" and len(request["candidates"]) == 5
    assert parse_request(request).name == "fraud-xgboost"  # what the plan step will parse
    assert sent == json.dumps(request, sort_keys=True, separators=(",", ":"))  # canonical: same request, same bytes
    assert document["console_url"].startswith("https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1")


def test_the_same_request_twice_does_not_start_a_second_run(stack: FakeStack) -> None:
    first = _started(stack)
    result = stack.invoke("start", str(REQUEST))
    assert result.exit_code == 0, result.output
    assert "already running" in result.output and first["run_id"] in result.output
    executions = stack.sfn.list_executions(stateMachineArn=stack.machine)["executions"]
    assert [e["name"] for e in executions] == [first["run_id"]]


def test_a_finished_run_of_the_same_request_is_refused_until_renamed(stack: FakeStack) -> None:
    first = _started(stack)
    stack.sfn.stop_execution(executionArn=first["execution_arn"])
    result = stack.invoke("start", str(REQUEST))
    assert result.exit_code == 5, result.output
    assert "already ran (ABORTED" in result.output and "--name" in result.output
    again = _started(stack, "--name", "fraud-again-1")
    assert again["run_id"] == "fraud-again-1"


def test_start_inlines_payload_files_and_refuses_local_requests(stack: FakeStack, tmp_path: Path) -> None:
    document = json.loads(REQUEST.read_text())
    (tmp_path / "row.csv").write_text("9,8,7")
    document["payloads"] = {"content_type": "text/csv", "files": ["row.csv"]}
    request = tmp_path / "request.json"
    request.write_text(json.dumps(document))
    started = stack.invoke("start", str(request), "--output", "json")
    assert started.exit_code == 0, started.output
    sent = json.loads(stack.sfn.describe_execution(executionArn=_json(started)["execution_arn"])["input"])
    assert sent["payloads"]["samples"] == ["9,8,7"] and sent["payloads"]["files"] == []

    local = runner.invoke(app, ["start", str(REPO / "events" / "local-demo.json")])
    assert local.exit_code == 2 and "rightsize run" in local.output


def test_start_refuses_a_request_for_another_region_and_bad_names(stack: FakeStack) -> None:
    other = runner.invoke(app, ["start", str(REQUEST), "--region", "eu-west-1"])
    assert other.exit_code == 2 and "us-east-1" in other.output and "eu-west-1" in other.output
    bad = runner.invoke(app, ["start", str(REQUEST), "--name", "no spaces allowed"])
    assert bad.exit_code == 2 and "--name" in bad.output
    assert stack.sfn.list_executions(stateMachineArn=stack.machine)["executions"] == []


def test_dry_run_calls_the_preflight_and_starts_nothing(stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    fake = types.ModuleType("rightsizing_cli.dry_run")

    @dataclass
    class Report:
        ok: bool

        def model_dump(self, mode: str) -> dict[str, Any]:
            return {"ok": self.ok}

    def dry_run(request: Any, session: Any, region: str) -> Report:
        calls.append((request.name, session, region))
        return Report(ok=False)

    fake.dry_run = dry_run  # type: ignore[attr-defined]
    fake.print_dry_run = lambda console, report: console.print("PREFLIGHT PRINTED")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rightsizing_cli.dry_run", fake)
    result = runner.invoke(app, ["start", str(REQUEST), "--dry-run"])
    assert result.exit_code == 1, result.output  # a failed check: nothing could be started
    assert "PREFLIGHT PRINTED" in result.output and "nothing was created" in result.output
    assert calls and calls[0][0] == "fraud-xgboost" and calls[0][2] == "us-east-1"
    as_json = runner.invoke(app, ["start", str(REQUEST), "--dry-run", "--output", "json"])
    assert json.loads(as_json.stdout)["dry_run"] == {"ok": False}
    assert stack.sfn.list_executions(stateMachineArn=stack.machine)["executions"] == []


# --- cancel, and the cleanup that follows it ---


def _rule_starts_cleanup(stack: FakeStack, execution_arn: str) -> None:
    """What RunStoppedRule does with the run's status-change event: match its pattern, transform, start."""
    template = yaml.load((REPO / "template.yaml").read_text(), Loader=CfnLoader)
    rule = template["Resources"]["RunStoppedRule"]["Properties"]
    execution = stack.sfn.describe_execution(executionArn=execution_arn)
    event = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": stack.machine,
            "name": execution["name"],
            "status": execution["status"],
            "input": execution["input"],
        },
    }
    pattern = rule["EventPattern"]
    assert event["source"] in pattern["source"] and event["detail-type"] in pattern["detail-type"]
    assert event["detail"]["status"] in pattern["detail"]["status"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "RightsizingStateMachine"}]
    target = rule["Targets"][0]
    assert target["Arn"] == {"Ref": "CleanupStateMachine"}
    transformer = target["InputTransformer"]
    values = {name: _path(event, path) for name, path in transformer["InputPathsMap"].items()}
    # An unquoted placeholder in a JSON template takes the value as JSON (a string gets its quotes).
    text = re.sub(r"<([\w.-]+)>", lambda m: json.dumps(values[m.group(1)]), transformer["InputTemplate"])
    stack.sfn.start_execution(stateMachineArn=stack.cleanup_machine, input=text)  # EventBridge names it


def _path(document: Any, path: str) -> Any:
    for part in path.removeprefix("$.").split("."):
        document = document[part]
    return document


def test_cancel_stops_the_run_and_status_shows_the_cleanup_it_triggered(stack: FakeStack) -> None:
    started = _started(stack)
    run_id = started["run_id"]
    cancelled = stack.invoke("cancel", run_id, "--reason", "wrong model")
    assert cancelled.exit_code == 0, cancelled.output
    assert "cleanup state machine" in cancelled.output and f"rightsize status {run_id}" in cancelled.output
    assert stack.sfn.describe_execution(executionArn=started["execution_arn"])["status"] == "ABORTED"

    before = _json(stack.invoke("status", run_id, "--output", "json"))
    assert before["status"] == "ABORTED" and before["cleanup"] == []

    _rule_starts_cleanup(stack, started["execution_arn"])
    stack.sfn.start_execution(stateMachineArn=stack.cleanup_machine, input=json.dumps({"run_id": "another-run"}))
    after = stack.invoke("status", run_id, "--output", "json")
    assert after.exit_code == 0, after.output
    cleanup = _json(after)["cleanup"]
    assert len(cleanup) == 1 and cleanup[0]["status"] == "RUNNING" and cleanup[0]["candidate_id"] is None
    text = stack.invoke("status", run_id)
    assert "cleanup of the run: RUNNING" in text.output

    again = stack.invoke("cancel", run_id, "--output", "json")
    assert again.exit_code == 0 and _json(again)["cancelled"] is False


def test_status_and_cancel_of_an_unknown_run_say_so(stack: FakeStack) -> None:
    result = stack.invoke("status", "no-such-run")
    assert result.exit_code == 2 and "no execution" in result.output
    by_arn = runner.invoke(app, ["cancel", "arn:aws:states:us-east-1:123456789012:stateMachine:Rightsizing"])
    assert by_arn.exit_code == 2 and "not an execution ARN" in by_arn.output


# --- list ---


def test_list_shows_runs_newest_first_and_filters_by_status(stack: FakeStack) -> None:
    first = _started(stack, "--name", "run-one")
    _started(stack, "--name", "run-two")
    stack.sfn.stop_execution(executionArn=first["execution_arn"])
    listed = _json(stack.invoke("list", "--output", "json"))
    assert [r["run_id"] for r in listed["runs"]] == ["run-two", "run-one"]
    aborted = _json(stack.invoke("list", "--status", "ABORTED", "--output", "json"))
    assert [r["run_id"] for r in aborted["runs"]] == ["run-one"]
    text = stack.invoke("list")
    assert text.exit_code == 0 and "run-two" in text.output and "RUNNING" in text.output


# --- report ---


def _result(run_id: str) -> RunResult:
    measured = CandidateResult(
        candidate_id="c01-ml-c5-xlarge", instance_type="ml.c5.xlarge", status="succeeded", sustainable_rps=640.0
    )
    rec = Recommendation(
        candidate_id="c01-ml-c5-xlarge",
        instance_type="ml.c5.xlarge",
        instance_count=1,
        usd_per_hour=0.204,
        usd_per_hour_per_instance=0.204,
        usd_per_million_inferences=0.09,
        sustainable_rps_per_instance=640.0,
        capacity_rps=640.0,
        headroom_percent=28.0,
        price_source="test",
        rationale="cheapest meeting the target",
    )
    prefix = f"s3://{BUCKET}/runs/{run_id}/"
    return RunResult(
        run_id=run_id,
        mode="aws",
        region="us-east-1",
        traffic=TrafficTarget(min_rps=500),
        sla=LatencySla(percentile="p95", milliseconds=100),
        max_error_rate=0.001,
        candidates=[measured],
        recommendation=rec,
        artifacts={
            "result": prefix + "result.json",
            "csv": prefix + "results.csv",
            "report": prefix + "report.html",
            "snippet": prefix + "endpoint-snippet.yaml",
        },
    )


def test_report_downloads_the_run_artefacts(stack: FakeStack, tmp_path: Path) -> None:
    run_id = "fraud-xgboost-0123456789ab"
    result = _result(run_id)
    files = {
        "result.json": result.model_dump_json().encode(),
        "results.csv": b"candidate_id\nc01\n",
        "report.html": b"<html>report</html>",
        "endpoint-snippet.yaml": b"Resources: {}\n",
    }
    for name, body in files.items():
        stack.s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/{name}", Body=body)
    fetched = stack.invoke("report", run_id, "--output", "json")
    assert fetched.exit_code == 0, fetched.output
    document = _json(fetched)
    folder = tmp_path / "rightsizing-runs" / "runs" / run_id
    assert Path(document["report"]) == folder / "report.html"
    for name, body in files.items():
        assert (folder / name).read_bytes() == body
    text = stack.invoke("report", run_id)
    assert "Recommendation:" in text.output and str(folder / "report.html") in text.output


def test_report_of_a_run_without_a_result_says_why(stack: FakeStack) -> None:
    result = stack.invoke("report", "still-running-run")
    assert result.exit_code == 1 and "has not finished" in result.output


# --- credentials and access ---


def test_missing_credentials_are_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = runner.invoke(app, ["list", "--output", "json"])
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"].startswith("no AWS credentials: run aws configure")
    missing_profile = runner.invoke(app, ["status", "r1", "--profile", "nobody"])
    assert missing_profile.exit_code == 2 and "nobody" in missing_profile.output


def test_access_denied_and_a_missing_stack_are_explained(
    stubbed: Callable[..., tuple[Any, Stubber]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    cfn, stubber = stubbed("cloudformation")
    monkeypatch.setattr(aws_context, "client_factory", lambda session, service, region: cfn)
    stubber.add_client_error("describe_stacks", "AccessDenied", "User: x is not authorized", 403)
    denied = runner.invoke(app, ["list"])
    assert denied.exit_code == 4 and "access denied to DescribeStacks" in denied.output
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id nope does not exist", 400)
    missing = runner.invoke(app, ["list", "--stack", "nope"])
    assert missing.exit_code == 2 and "stack nope not found in us-east-1" in missing.output
