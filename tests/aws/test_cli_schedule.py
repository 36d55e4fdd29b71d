"""``rightsize schedule create|list|delete`` against a faked AWS: EventBridge Scheduler, S3 and Step Functions in
moto, the stack's DescribeStacks under botocore's Stubber. A created schedule is then fired as Scheduler fires it:
its Input, with the period's time filled in, handed to functions/start_scheduled_run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import REPO, FakeLambdaContext, load_handler
from moto import mock_aws
from stack_stubs import STACK, describe_stacks_response, stubbed_cloudformation
from typer.testing import CliRunner

from rightsizing.models.automation import SCHEDULED_TIME
from rightsizing_cli.main import app

REQUEST = REPO / "events" / "aws-fraud-tabular.json"
BUCKET = "rightsizing-results-test"
GROUP = "sagemaker-rightsizing-ScheduleGroup-ABC"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:sagemaker-rightsizing-StartScheduledRunFunction-ABC"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-rightsizing-SchedulerRole-ABC"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
runner = CliRunner()


@dataclass
class FakeStack:
    scheduler: Any
    s3: Any
    sfn: Any
    machine: str
    cfn: Stubber

    def invoke(self, *args: str, describes: int = 1) -> Any:
        outputs = {
            "StateMachineArn": self.machine,
            "ResultsBucketName": BUCKET,
            "ScheduleGroupName": GROUP,
            "SchedulerRoleArn": ROLE,
            "StartScheduledRunFunctionArn": FUNCTION,
        }
        for _ in range(describes):
            self.cfn.add_response("describe_stacks", describe_stacks_response(outputs), {"StackName": STACK})
        return runner.invoke(app, list(args))

    def fire(self, name: str, when: str) -> dict[str, Any]:
        """What Scheduler does at a period: the schedule's Input with the context attributes replaced."""
        target = self.scheduler.get_schedule(GroupName=GROUP, Name=name)["Target"]
        assert target["Arn"] == FUNCTION and target["RoleArn"] == ROLE
        event = json.loads(target["Input"].replace(SCHEDULED_TIME, when))
        outcome: dict[str, Any] = load_handler("start_scheduled_run").lambda_handler(event, FakeLambdaContext())
        return outcome


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeStack]:
    monkeypatch.chdir(tmp_path)  # no samconfig.toml: the default stack name
    with mock_aws():
        scheduler = boto3.client("scheduler", region_name="us-east-1")
        scheduler.create_schedule_group(Name=GROUP)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(name="Rightsizing", definition=DEFINITION, roleArn=ROLE)["stateMachineArn"]
        monkeypatch.setenv("RIGHTSIZING_STATE_MACHINE_ARN", machine)
        monkeypatch.setenv("RIGHTSIZING_ARTIFACTS_URI", f"s3://{BUCKET}")
        with stubbed_cloudformation(monkeypatch) as stubber:
            yield FakeStack(scheduler, s3, sfn, machine, stubber)


def _json(result: Any) -> Any:
    assert result.stdout.strip(), result.output
    return json.loads(result.stdout)


def test_create_stores_the_request_and_each_period_starts_it_once(stack: FakeStack) -> None:
    result = stack.invoke(
        "schedule", "create", "fraud-weekly", str(REQUEST), "--cron", "0 2 ? * MON *", "--timezone", "Europe/Paris",
        "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = _json(result)
    assert document["expression"] == "cron(0 2 ? * MON *)" and document["timezone"] == "Europe/Paris"
    assert document["request_uri"] == f"s3://{BUCKET}/schedules/fraud-weekly.json"
    stored = stack.s3.get_object(Bucket=BUCKET, Key="schedules/fraud-weekly.json")["Body"].read()
    assert json.loads(stored)["name"] == "fraud-xgboost"
    schedule = stack.scheduler.get_schedule(GroupName=GROUP, Name="fraud-weekly")
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"} and schedule["State"] == "ENABLED"

    first = stack.fire("fraud-weekly", "2026-01-05T01:00:00Z")
    again = stack.fire("fraud-weekly", "2026-01-05T01:00:00Z")  # the same period delivered twice
    assert first["run_id"] == again["run_id"] == "fraud-weekly-202601050100"
    executions = stack.sfn.list_executions(stateMachineArn=stack.machine)["executions"]
    assert [e["name"] for e in executions] == ["fraud-weekly-202601050100"]
    sent = stack.sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"]
    assert sent == stored.decode()  # the CLI stored the canonical execution input; the run gets exactly it


def test_list_shows_each_schedule_and_delete_removes_it_with_its_request(stack: FakeStack) -> None:
    created = stack.invoke("schedule", "create", "fraud-weekly", str(REQUEST), "--rate", "7 days")
    assert created.exit_code == 0, created.output
    listed = _json(stack.invoke("schedule", "list", "--output", "json"))
    assert listed["schedules"] == [
        {
            "name": "fraud-weekly",
            "expression": "rate(7 days)",
            "timezone": "UTC",
            "state": "ENABLED",
            "request_uri": f"s3://{BUCKET}/schedules/fraud-weekly.json",
        }
    ]
    deleted = stack.invoke("schedule", "delete", "fraud-weekly")
    assert deleted.exit_code == 0, deleted.output
    assert stack.scheduler.list_schedules(GroupName=GROUP)["Schedules"] == []
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=BUCKET, Prefix="schedules/")
    again = stack.invoke("schedule", "delete", "fraud-weekly")
    assert again.exit_code == 2 and "no schedule fraud-weekly" in again.output


def test_an_existing_schedule_is_not_replaced_but_its_request_may_be(stack: FakeStack) -> None:
    assert stack.invoke("schedule", "create", "fraud-weekly", str(REQUEST), "--rate", "7 days").exit_code == 0
    twice = stack.invoke("schedule", "create", "fraud-weekly", str(REQUEST), "--rate", "1 day")
    assert twice.exit_code == 2 and "exists" in twice.output
    assert stack.scheduler.get_schedule(GroupName=GROUP, Name="fraud-weekly")["ScheduleExpression"] == "rate(7 days)"
    replaced = stack.invoke("schedule", "create", "fraud-weekly", str(REQUEST), "--output", "json")
    assert replaced.exit_code == 0 and _json(replaced)["created"] is False


def test_the_stacks_default_schedule_takes_only_a_request(stack: FakeStack) -> None:
    missing = stack.invoke("schedule", "create", "default", str(REQUEST))
    assert missing.exit_code == 2 and "no schedule default" in missing.output  # the stack was deployed without one
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=BUCKET, Prefix="schedules/")
    refused = runner.invoke(app, ["schedule", "create", "default", str(REQUEST), "--rate", "7 days"])
    assert refused.exit_code == 2 and "DefaultScheduleExpression" in refused.output
    assert runner.invoke(app, ["schedule", "delete", "default"]).exit_code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad_name", str(REQUEST), "--rate", "7 days"], "not a valid schedule name"),
        (["fraud", str(REQUEST), "--rate", "7 days", "--cron", "0 2 ? * MON *"], "exactly one of --cron and --rate"),
        (["fraud", str(REQUEST), "--rate", "5 minutes"], "more often than once an hour"),
        (["fraud", str(REQUEST), "--rate", "1 days"], "singular unit for 1"),
        (["fraud", str(REQUEST), "--cron", "0 2 * * *"], "Scheduler's cron has 6"),
        (["fraud", str(REQUEST), "--cron", "0 2 * * MON *"], "exactly one of day-of-month and day-of-week"),
        (["fraud", str(REQUEST), "--cron", "*/5 * ? * * *"], "more than once an hour"),
        (["fraud", str(REQUEST), "--rate", "7 days", "--timezone", "Mars/Olympus"], "not an IANA time zone"),
        (["fraud", str(REPO / "events" / "local-demo.json"), "--rate", "7 days"], "local profiles"),
    ],
    ids=["name", "both", "too-often", "plural", "fields", "question-mark", "every-5-min", "timezone", "local"],
)
def test_invalid_input_is_refused_before_anything_is_asked(args: list[str], message: str) -> None:
    # no stack fixture: a call to AWS would fail for want of credentials and a stubbed DescribeStacks
    result = runner.invoke(app, ["schedule", "create", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
