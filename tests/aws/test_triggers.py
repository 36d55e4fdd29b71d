"""The automatic starts, offline: a schedule's period and a Model Registry state change, through the Lambda handlers
in functions/start_*_run against moto (S3, Step Functions), and the template's schedule input and rule pattern
applied to the sample events as Scheduler and EventBridge would apply them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import REPO, FakeLambdaContext, function_event, load_handler
from iam_template import PARAMETERS, CfnLoader, Template, deployed_template
from moto import mock_aws

from rightsizing.models.automation import SCHEDULED_TIME, ModelPackageStateChange, ScheduledRunEvent, scheduler_input
from rightsizing.models.request import parse_request
from rightsizing.steps.run_trigger import canonical_input

BUCKET = "rightsizing-results-test"
REQUEST = REPO / "events" / "aws-fraud-tabular.json"
PROFILE = REPO / "events" / "profiles" / "fraud-xgboost.json"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class Stack:
    s3: Any
    sfn: Any
    machine: str

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.machine)["executions"])

    def input_of(self, execution: dict[str, Any]) -> str:
        return str(self.sfn.describe_execution(executionArn=execution["executionArn"])["input"])


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="Rightsizing", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/states"
        )["stateMachineArn"]
        monkeypatch.setenv("RIGHTSIZING_STATE_MACHINE_ARN", machine)
        monkeypatch.setenv("RIGHTSIZING_ARTIFACTS_URI", f"s3://{BUCKET}")
        monkeypatch.setenv("RIGHTSIZING_APPROVAL_STATUSES", "Approved")
        yield Stack(s3, sfn, machine)


def _put(stack: Stack, key: str, document: Any) -> None:
    body = document if isinstance(document, str) else json.dumps(document)  # a string: the bytes as they are
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def _scheduled(when: str = "2026-01-05T02:00:00Z", name: str = "fraud-weekly") -> dict[str, Any]:
    """What Scheduler hands the function: the schedule's Input with the period's time filled in."""
    event = function_event("start_scheduled_run")
    return {
        **event,
        "schedule_name": name,
        "scheduled_time": when,
        "request_uri": f"s3://{BUCKET}/schedules/{name}.json",
    }


def _approved(**detail: Any) -> dict[str, Any]:
    event = function_event("start_registry_run")
    return {**event, "detail": {**event["detail"], **detail}}


def _start(function: str, event: dict[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = load_handler(function).lambda_handler(event, FakeLambdaContext())
    return outcome


# --- schedules ----------------------------------------------------------------------------------------------------


def test_a_period_starts_the_stored_request_named_after_the_period(stack: Stack) -> None:
    _put(stack, "schedules/fraud-weekly.json", json.loads(REQUEST.read_text()))
    outcome = _start("start_scheduled_run", _scheduled())

    assert outcome["started"] is True and outcome["already_started"] is False
    [execution] = stack.executions()
    assert execution["name"] == outcome["run_id"] == "fraud-weekly-202601050200"
    sent = stack.input_of(execution)
    request = parse_request(json.loads(sent))  # what the plan step will parse
    assert request.name == "fraud-xgboost" and len(request.candidates) == 5
    assert sent == canonical_input(parse_request(json.loads(REQUEST.read_text())))


def test_the_same_period_delivered_twice_starts_one_run_and_the_next_period_another(stack: Stack) -> None:
    _put(stack, "schedules/fraud-weekly.json", json.loads(REQUEST.read_text()))
    first = _start("start_scheduled_run", _scheduled())
    retried = _start("start_scheduled_run", _scheduled())  # Scheduler's or Lambda's retry of the same period

    assert retried["run_id"] == first["run_id"] and retried["execution_arn"] == first["execution_arn"]
    assert len(stack.executions()) == 1
    following = _start("start_scheduled_run", _scheduled("2026-01-12T02:00:00Z"))
    assert following["run_id"] == "fraud-weekly-202601120200"
    assert sorted(e["name"] for e in stack.executions()) == [first["run_id"], following["run_id"]]


def test_a_period_in_another_time_zone_is_named_in_utc(stack: Stack) -> None:
    _put(stack, "schedules/fraud-weekly.json", json.loads(REQUEST.read_text()))
    outcome = _start("start_scheduled_run", _scheduled("2026-01-05T03:00:00+01:00"))
    assert outcome["run_id"] == "fraud-weekly-202601050200"


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (None, "no request stored at s3://"),
        ({"name": "x"}, "the stored request"),
        ("{not json", "is not JSON"),
        ({**json.loads(REQUEST.read_text()), "region": "eu-west-1"}, "the stack's is us-east-1"),
    ],
    ids=["missing", "invalid", "not-json", "other-region"],
)
def test_a_period_without_a_usable_request_starts_nothing(stack: Stack, stored: Any, reason: str) -> None:
    if stored is not None:
        _put(stack, "schedules/fraud-weekly.json", stored)
    outcome = _start("start_scheduled_run", _scheduled())
    assert outcome["started"] is False and reason in outcome["reason"]
    assert stack.executions() == []


def test_the_stacks_default_schedule_input_is_what_the_function_reads(stack: Stack) -> None:
    template = deployed_template()
    schedule = template.resolve(template.resources["DefaultSchedule"]["Properties"])
    bucket = template.refs["ResultsBucket"]
    assert schedule["Target"]["Input"] == scheduler_input("default", f"s3://{bucket}/schedules/default.json")
    assert schedule["Target"]["Arn"] == template.attributes["StartScheduledRunFunction"]["Arn"]
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}  # YAML would read a bare OFF as false
    delivered = json.loads(schedule["Target"]["Input"].replace(SCHEDULED_TIME, "2026-01-05T02:00:00Z"))
    assert ScheduledRunEvent.model_validate(delivered).schedule_name == "default"


# --- Model Registry -----------------------------------------------------------------------------------------------


def test_an_approved_package_version_starts_a_run_with_its_groups_profile(stack: Stack) -> None:
    _put(stack, "profiles/fraud-xgboost.json", json.loads(PROFILE.read_text()))
    event = _approved()
    outcome = _start("start_registry_run", event)

    assert outcome["started"] is True
    [execution] = stack.executions()
    assert execution["name"] == outcome["run_id"] == "fraud-xgboost-v7"
    request = parse_request(json.loads(stack.input_of(execution)))
    assert request.model.type == "model_package"
    assert request.model.model_package_arn == event["detail"]["ModelPackageArn"]
    assert request.name == "fraud-xgboost" and request.region == event["region"]
    profile = json.loads(PROFILE.read_text())
    assert [c.instance_type for c in request.candidates] == [c["instance_type"] for c in profile["candidates"]]
    assert request.traffic.min_rps == profile["traffic"]["min_rps"] and request.sla.milliseconds == 100


def test_the_same_state_change_sent_twice_starts_one_run(stack: Stack) -> None:
    # SageMaker may send several events for one state change.
    _put(stack, "profiles/fraud-xgboost.json", json.loads(PROFILE.read_text()))
    first, second = _start("start_registry_run", _approved()), _start("start_registry_run", _approved())
    assert first["execution_arn"] == second["execution_arn"] and len(stack.executions()) == 1


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"ModelApprovalStatus": "PendingManualApproval"}, "is PendingManualApproval, not Approved"),
        ({"ModelApprovalStatus": "Rejected"}, "is Rejected, not Approved"),
        ({"ModelPackageStatus": "InProgress"}, "is InProgress"),
        ({"ModelPackageGroupName": "churn"}, "model package group churn has no profile at s3://"),
        ({"ModelPackageGroupName": "broken"}, "is not JSON"),
    ],
    ids=["pending", "rejected", "in-progress", "no-profile", "profile-not-json"],
)
def test_an_unapproved_package_or_a_group_without_a_profile_starts_nothing(
    stack: Stack, detail: dict[str, Any], reason: str
) -> None:
    _put(stack, "profiles/fraud-xgboost.json", json.loads(PROFILE.read_text()))
    _put(stack, "profiles/broken.json", "{not json")
    outcome = _start("start_registry_run", _approved(**detail))
    assert outcome["started"] is False and reason in outcome["reason"]
    assert stack.executions() == []


def test_a_profile_that_names_its_own_model_starts_nothing(stack: Stack) -> None:
    profile = {**json.loads(PROFILE.read_text()), "model": {"type": "container", "image": "x"}}
    _put(stack, "profiles/fraud-xgboost.json", profile)
    outcome = _start("start_registry_run", _approved())
    assert outcome["started"] is False and "may set only network_isolation" in outcome["reason"]
    assert stack.executions() == []


def test_a_profile_may_ask_for_network_isolation(stack: Stack) -> None:
    profile = {**json.loads(PROFILE.read_text()), "model": {"network_isolation": True}}
    _put(stack, "profiles/fraud-xgboost.json", profile)
    _start("start_registry_run", _approved())
    [execution] = stack.executions()
    assert json.loads(stack.input_of(execution))["model"]["network_isolation"] is True


def _matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the pattern forms the template uses: a list of values, or a nested object."""
    if isinstance(pattern, list):
        return event in pattern
    return isinstance(event, dict) and all(k in event and _matches(v, event[k]) for k, v in pattern.items())


@pytest.mark.parametrize("groups", ["", "fraud-xgboost,churn", "churn"])
def test_the_registry_rule_passes_approved_versions_of_the_configured_groups(groups: str) -> None:
    import yaml

    document = yaml.load((REPO / "template.yaml").read_text(), Loader=CfnLoader)
    template = Template(document, {**PARAMETERS, "RegistryModelPackageGroups": groups})
    rule = template.resolve(template.resources["ModelPackageApprovedRule"]["Properties"])
    assert rule["Targets"][0]["Arn"] == template.attributes["StartRegistryRunFunction"]["Arn"]
    approved, pending = _approved(), _approved(ModelApprovalStatus="PendingManualApproval")
    assert _matches(rule["EventPattern"], approved) is (groups != "churn")
    assert not _matches(rule["EventPattern"], pending)
    assert ModelPackageStateChange.model_validate(approved).detail.version == 7
