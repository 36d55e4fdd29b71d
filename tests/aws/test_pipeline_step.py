"""The SageMaker Pipelines callback step, offline: the step's SQS message (sent and received through moto's SQS)
starts a run with the stored profile (moto S3 and Step Functions), and the run's end event answers the step with
SendPipelineExecutionStepSuccess or ...Failure, checked against botocore's SageMaker model by a Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import REPO, FakeLambdaContext, function_event, load_handler
from moto import mock_aws

from rightsizing.adapters import pipeline_callbacks
from rightsizing.adapters.pipeline_callbacks import client_request_token
from rightsizing.models.pipeline_step import OUTPUT_NAMES
from rightsizing.models.request import parse_request
from rightsizing.steps.registry_run import profile_request
from rightsizing.steps.run_trigger import canonical_input

BUCKET = "rightsizing-results-test"
PROFILE = REPO / "events" / "profiles" / "fraud-xgboost.json"
MESSAGE = json.loads((REPO / "events" / "pipelines" / "callback-message.json").read_text())
TOKEN = MESSAGE["token"]
RUN_ID = f"pipeline-{TOKEN}"
PACKAGE = MESSAGE["arguments"]["model_package_arn"]
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class Stack:
    s3: Any
    sfn: Any
    sqs: Any
    queue_url: str
    machine: str
    sagemaker: Stubber

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.machine)["executions"])


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="profiles/fraud-xgboost.json", Body=PROFILE.read_bytes())
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="Rightsizing", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/states"
        )["stateMachineArn"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="rightsizing-pipeline-callbacks")["QueueUrl"]
        # moto has no SendPipelineExecutionStep*: a Stubber checks each call against botocore's SageMaker model.
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        stubber = Stubber(sagemaker)
        monkeypatch.setattr(pipeline_callbacks, "aws_client", lambda service: sagemaker)
        monkeypatch.setenv("RIGHTSIZING_STATE_MACHINE_ARN", machine)
        monkeypatch.setenv("RIGHTSIZING_ARTIFACTS_URI", f"s3://{BUCKET}")
        with stubber:
            yield Stack(s3, sfn, sqs, queue_url, machine, stubber)
            stubber.assert_no_pending_responses()


def _deliver(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    """Send ``body`` as the callback step does, receive it, and hand it to the function as Lambda's SQS poller does."""
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))
    received = stack.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=1)["Messages"][0]
    event = function_event("start_pipeline_run")
    event["Records"][0].update(body=received["Body"], messageId=received["MessageId"])
    outcome: dict[str, Any] = load_handler("start_pipeline_run").lambda_handler(event, FakeLambdaContext())
    return outcome


def _expect_failure(stack: Stack, run_id: str = RUN_ID, containing: str = "") -> None:
    def reason_ok(reason: str) -> bool:
        return containing in reason and len(reason) <= 256

    stack.sagemaker.add_response(
        "send_pipeline_execution_step_failure",
        {"PipelineExecutionArn": MESSAGE["pipelineExecutionArn"]},
        {
            "CallbackToken": TOKEN,
            "FailureReason": _Matching(reason_ok),
            "ClientRequestToken": client_request_token(run_id, "failure"),
        },
    )


class _Matching:
    """A Stubber expected parameter that accepts any value ``check`` approves."""

    def __init__(self, check: Any) -> None:
        self.check = check

    def __eq__(self, other: object) -> bool:
        return bool(self.check(other))

    def __repr__(self) -> str:
        return "<matching value>"


def test_the_sample_sqs_event_carries_the_sample_message() -> None:
    assert json.loads(function_event("start_pipeline_run")["Records"][0]["body"]) == MESSAGE


def test_message_starts_the_profile_with_the_package_and_keeps_the_token(stack: Stack) -> None:
    outcome = _deliver(stack, MESSAGE)

    assert outcome["outcomes"][0]["started"] is True and outcome["outcomes"][0]["run_id"] == RUN_ID
    [execution] = stack.executions()
    assert execution["name"] == RUN_ID
    given = stack.sfn.describe_execution(executionArn=execution["executionArn"])["input"]
    expected = parse_request(profile_request(json.loads(PROFILE.read_text()), PACKAGE, "fraud-xgboost", "us-east-1"))
    assert given == canonical_input(expected)
    assert json.loads(given)["model"]["model_package_arn"] == PACKAGE
    kept = json.loads(stack.s3.get_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/pipeline-callback.json")["Body"].read())
    assert kept == {"token": TOKEN, "pipeline_execution_arn": MESSAGE["pipelineExecutionArn"]}


def test_a_redelivered_message_starts_nothing_new(stack: Stack) -> None:
    first = _deliver(stack, MESSAGE)["outcomes"][0]
    again = _deliver(stack, MESSAGE)["outcomes"][0]

    # StartExecution with the name and input of a running execution returns it; a finished one is refused.
    assert again["started"] is True and again["execution_arn"] == first["execution_arn"]
    assert len(stack.executions()) == 1


def test_a_message_without_a_profile_fails_the_step_at_once(stack: Stack) -> None:
    _expect_failure(stack, containing="no profile at s3://rightsizing-results-test/profiles/churn.json")
    body = {**MESSAGE, "arguments": {**MESSAGE["arguments"], "profile": "churn"}}

    outcome = _deliver(stack, body)["outcomes"][0]

    assert outcome["started"] is False
    assert stack.executions() == []


def test_a_profile_that_names_its_own_model_fails_the_step(stack: Stack) -> None:
    profile = {**json.loads(PROFILE.read_text()), "model": {"type": "builtin", "builtin": "tabular"}}
    stack.s3.put_object(Bucket=BUCKET, Key="profiles/fraud-xgboost.json", Body=json.dumps(profile).encode())
    _expect_failure(stack, containing="may set only network_isolation")

    assert _deliver(stack, MESSAGE)["outcomes"][0]["started"] is False
    assert stack.executions() == []


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"profile": "fraud-xgboost"}, "model_package_arn"),
        ({"profile": "fraud-xgboost", "model_package_arn": "fraud-xgboost/7"}, "model_package_arn"),
        ({"profile": "../secrets", "model_package_arn": PACKAGE}, "profile"),
    ],
)
def test_a_malformed_message_is_refused_naming_the_field(stack: Stack, arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _deliver(stack, {**MESSAGE, "arguments": arguments})
    assert stack.executions() == []


def _kept(stack: Stack, run_id: str) -> None:
    body = json.dumps({"token": TOKEN, "pipeline_execution_arn": MESSAGE["pipelineExecutionArn"]})
    stack.s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/pipeline-callback.json", Body=body.encode())


def _end_event(kind: str, **detail: Any) -> dict[str, Any]:
    event = json.loads((REPO / "events" / "eventbridge" / f"{kind}.json").read_text())
    event["detail"].update(detail)
    return event


def _answer(event: dict[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = load_handler("answer_pipeline_step").lambda_handler(event, FakeLambdaContext())
    return outcome


def test_a_completed_run_sends_success_with_the_recommendation(stack: Stack) -> None:
    event = _end_event("rightsizing-completed", run_id=RUN_ID)
    detail = event["detail"]
    assert detail["recommended"] is True  # the sample recommends
    _kept(stack, RUN_ID)
    outputs = [
        {"Name": "instance_type", "Value": detail["instance_type"]},
        {"Name": "instance_count", "Value": str(detail["instance_count"])},
        {"Name": "usd_per_hour", "Value": f"{detail['usd_per_hour']:.4f}"},
        {"Name": "run_id", "Value": RUN_ID},
        {"Name": "report_uri", "Value": detail["report_uri"]},
    ]
    assert [o["Name"] for o in outputs] == list(OUTPUT_NAMES)
    stack.sagemaker.add_response(
        "send_pipeline_execution_step_success",
        {"PipelineExecutionArn": MESSAGE["pipelineExecutionArn"]},
        {
            "CallbackToken": TOKEN,
            "OutputParameters": outputs,
            "ClientRequestToken": client_request_token(RUN_ID, "success"),
        },
    )

    outcome = _answer(event)

    assert outcome == {"answered": True, "run_id": RUN_ID, "succeeded": True, "reason": "recommendation sent"}


def test_a_run_that_recommends_nothing_fails_the_step(stack: Stack) -> None:
    event = _end_event(
        "rightsizing-completed",
        run_id=RUN_ID,
        recommended=False,
        instance_type=None,
        instance_count=None,
        usd_per_hour=None,
        message="no candidate met the SLA",
    )
    _kept(stack, RUN_ID)
    _expect_failure(stack, containing="recommends nothing: no candidate met the SLA")

    assert _answer(event)["succeeded"] is False


def test_a_failed_run_fails_the_step_with_its_error(stack: Stack) -> None:
    event = _end_event("rightsizing-failed", run_id=RUN_ID, cause="x" * 2000)
    _kept(stack, RUN_ID)
    _expect_failure(stack, containing=f"run {RUN_ID} {event['detail']['status']}: {event['detail']['error']}")

    outcome = _answer(event)

    assert outcome["answered"] is True and outcome["succeeded"] is False


def test_a_run_no_pipeline_waits_for_is_left_alone(stack: Stack) -> None:
    outcome = _answer(_end_event("rightsizing-completed"))

    assert outcome["answered"] is False  # and the Stubber saw no call
