"""No request body, container secret or AWS credential reaches a log line of the Lambda functions.

Each handler runs against moto with marker strings in the places a secret travels: the request's payload samples,
a candidate's container environment (e.g. a model hub token), the function's AWS credentials. Everything a Lambda
function's log group would receive is captured: Powertools' JSON lines (stdout), the standard ``logging`` records at
the level the template configures, and, for a handler that raises, what the Lambda runtime writes for an unhandled
error (its message and stack frames: ``errorMessage`` and ``stackTrace``). No marker may appear in any of it.

The log level is read from template.yaml (``POWERTOOLS_LOG_LEVEL``, each function's ``LoggingConfig``), so a change
that turns on DEBUG, or the event logging of Powertools, is tested at that level or refused here.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from conftest import FakeLambdaContext, function_event, load_handler
from iam_template import deployed_template
from moto import mock_aws

from rightsizing.adapters import aws_backend, guard
from rightsizing.pricing.snapshot import SnapshotPrices

BUCKET = "rightsizing-results-test"
PAYLOAD = "PAYLOADMARKERq7Zr2"  # in a request body
HUB_TOKEN = "HUBTOKENMARKERk3Vd8"  # in a container's environment
ACCESS_KEY = "AKIAMARKERw5Tn6"
SECRET_KEY = "SECRETKEYMARKERp9Lx4"
SESSION_TOKEN = "SESSIONTOKENMARKERc2Hm7"
MARKERS = (PAYLOAD, HUB_TOKEN, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)

TEMPLATE = deployed_template()
FUNCTIONS = {n: r for n, r in TEMPLATE.resources.items() if r["Type"] == "AWS::Serverless::Function"}
GLOBAL_ENVIRONMENT = TEMPLATE.document["Globals"]["Function"]["Environment"]["Variables"]


class FixedQuotas:
    def __init__(self, client: Any = None, region: str | None = None) -> None:
        pass

    def endpoint_usage_quotas(self) -> dict[str, float]:
        return dict.fromkeys(("ml.c5.xlarge", "ml.m5.xlarge", "ml.c6i.xlarge", "ml.c7g.xlarge", "ml.r5.xlarge"), 4.0)


def _marked_request() -> dict[str, Any]:
    request: dict[str, Any] = json.loads(json.dumps(function_event("plan")["request"]))
    request["payloads"] = {"content_type": "text/csv", "samples": [f"0.1,{PAYLOAD},0.3"]}
    request["candidates"][0]["environment"] = {"HF_TOKEN": HUB_TOKEN}
    return request


def _log_level() -> int:
    """The level the deployed functions log at: the stricter of Powertools' and Lambda's application log level."""
    names = {str(GLOBAL_ENVIRONMENT.get("POWERTOOLS_LOG_LEVEL", "INFO"))}
    for resource in FUNCTIONS.values():
        names.add(str(resource["Properties"].get("LoggingConfig", {}).get("ApplicationLogLevel", "INFO")))
    return min(logging.getLevelNamesMapping()[name.upper()] for name in names)


@pytest.fixture
def marked_aws(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", logging.getLevelName(_log_level()))
    monkeypatch.setattr(guard, "ServiceQuotas", FixedQuotas)
    monkeypatch.setattr(aws_backend, "price_list_with_fallback", SnapshotPrices)
    caplog.set_level(_log_level())
    with mock_aws():
        # after mock_aws, which sets credentials of its own: boto3 signs every call with these
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        machine = sfn.create_state_machine(
            name="Rightsizing", definition=definition, roleArn="arn:aws:iam::123456789012:role/states"
        )["stateMachineArn"]
        monkeypatch.setenv("RIGHTSIZING_STATE_MACHINE_ARN", machine)
        monkeypatch.setenv("RIGHTSIZING_ARTIFACTS_URI", f"s3://{BUCKET}")
        monkeypatch.setenv("RIGHTSIZING_APPROVAL_STATUSES", "Approved")
        monkeypatch.setenv("EVENT_BUS_NAME", "default")
        yield s3


def _invoke(function: str, event: dict[str, Any]) -> str:
    """What the function's log group receives for one invocation, the runtime's error record included."""
    try:
        load_handler(function).lambda_handler(event, FakeLambdaContext())
    except Exception as error:  # the runtime logs errorMessage, errorType and the frames (not chained errors)
        frames = traceback.format_list(traceback.extract_tb(error.__traceback__))
        return json.dumps({"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": frames})
    return ""


def _leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


def _plan_event(request: Any) -> dict[str, Any]:
    return {"request": request, "run_id": "leak-20260101-120000", "artifacts_uri": f"s3://{BUCKET}"}


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    request = _marked_request()
    node: Any = request
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return request


# Each case: a function, and what it is invoked with (moto prepared as that path needs).
CASES: dict[str, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    "plan, a valid request": ("plan", lambda s3: _plan_event(_marked_request())),
    "plan, a sample that is not a string": (
        "plan",
        lambda s3: _plan_event(_with(("payloads", "samples"), [{"body": PAYLOAD}])),
    ),
    "plan, samples that are not a list": ("plan", lambda s3: _plan_event(_with(("payloads", "samples"), PAYLOAD))),
    "plan, an environment value that is not a string": (
        "plan",
        lambda s3: _plan_event(_with(("candidates", 0, "environment"), {"HF_TOKEN": [HUB_TOKEN]})),
    ),
    "plan, an environment grid value that is not a list": (
        "plan",
        lambda s3: _plan_event(_with(("candidates", 0, "environment_grid"), {"HF_TOKEN": HUB_TOKEN})),
    ),
    "plan, a request that is not an object": ("plan", lambda s3: _plan_event([PAYLOAD, HUB_TOKEN])),
    "scheduled start, a stored request": ("start_scheduled_run", lambda s3: _scheduled(s3, _marked_request())),
    "scheduled start, an invalid stored request": (
        "start_scheduled_run",
        lambda s3: _scheduled(s3, _with(("payloads", "samples"), [[PAYLOAD]])),
    ),
    "scheduled start, a stored request that is not JSON": (
        "start_scheduled_run",
        lambda s3: _scheduled(s3, f"{{'samples': ['{PAYLOAD}', '{HUB_TOKEN}']"),
    ),
    "registry start, an invalid profile": (
        "start_registry_run",
        lambda s3: _registry(s3, {"payloads": {"samples": [{"x": PAYLOAD}]}, "candidates": "x"}),
    ),
    "run failed, the execution's input and cause": ("run_failed", lambda s3: _run_failed()),
}


def _scheduled(s3: Any, stored: Any) -> dict[str, Any]:
    body = stored if isinstance(stored, str) else json.dumps(stored)
    s3.put_object(Bucket=BUCKET, Key="schedules/leak.json", Body=body.encode())
    return {
        **function_event("start_scheduled_run"),
        "schedule_name": "leak",
        "scheduled_time": "2026-01-05T02:00:00Z",
        "request_uri": f"s3://{BUCKET}/schedules/leak.json",
    }


def _registry(s3: Any, profile: Any) -> dict[str, Any]:
    event = function_event("start_registry_run")
    group = event["detail"]["ModelPackageGroupName"]
    s3.put_object(Bucket=BUCKET, Key=f"profiles/{group}.json", Body=json.dumps(profile).encode())
    return event


def _run_failed() -> dict[str, Any]:
    event = function_event("run_failed")
    event["detail"]["input"] = json.dumps(_marked_request())
    return event


@pytest.mark.parametrize("case", CASES)
def test_no_marker_reaches_a_log_line(
    case: str, marked_aws: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    function, make_event = CASES[case]
    error_record = _invoke(function, make_event(marked_aws))
    captured = capsys.readouterr()
    records = "\n".join(
        f"{r.name} {r.getMessage()} {json.dumps(getattr(r, '__dict__', {}), default=str)}" for r in caplog.records
    )
    logged = "\n".join((captured.out, captured.err, records, error_record))
    assert logged.strip(), "nothing was logged: the capture is not looking at the handler's output"
    assert _leaks(logged) == [], f"{case}: {_leaks(logged)} in\n{logged[:3000]}"


def test_the_markers_were_really_in_play(marked_aws: Any) -> None:
    """The test above is only worth something if the markers reach the code: the stored request keeps the payload
    and the token (they must reach the endpoint), and the credentials are the ones boto3 signs with."""
    load_handler("plan").lambda_handler(_plan_event(_marked_request()), FakeLambdaContext())
    stored = marked_aws.get_object(Bucket=BUCKET, Key="runs/leak-20260101-120000/request.json")["Body"].read()
    assert PAYLOAD.encode() in stored and HUB_TOKEN.encode() in stored
    credentials = boto3.Session().get_credentials().get_frozen_credentials()
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        ACCESS_KEY,
        SECRET_KEY,
        SESSION_TOKEN,
    )


def test_the_functions_do_not_log_events_or_debug() -> None:
    """Powertools logs the whole event with POWERTOOLS_LOGGER_LOG_EVENT (the request, with its payloads, is the Plan
    function's event) and botocore logs request bodies and signed headers at DEBUG: neither may be turned on."""
    for name, resource in FUNCTIONS.items():
        variables = {**GLOBAL_ENVIRONMENT, **resource["Properties"].get("Environment", {}).get("Variables", {})}
        assert str(variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() == "false", name
        assert "POWERTOOLS_DEBUG" not in variables and "POWERTOOLS_DEV" not in variables, name
        logging_config = resource["Properties"].get("LoggingConfig", {})
        assert logging_config.get("ApplicationLogLevel", "INFO") not in ("DEBUG", "TRACE"), name
        assert logging_config.get("SystemLogLevel", "INFO") not in ("DEBUG",), name
    assert _log_level() >= logging.INFO
