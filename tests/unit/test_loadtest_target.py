"""Which endpoint the load generator targets (``endpoint.resolve_target``) and how it names failures
(``responses.failure_reason``). Both modules are import-safe (no Locust), so they are tested in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rightsizing.models.plan import LoadTestJob
from rightsizing.models.request import LoadSettings
from rightsizing_loadtest.endpoint import (
    EndpointConfigError,
    Target,
    check_loopback_url,
    default_credentials,
    invocations_for,
    invocations_path,
    resolve_target,
    runtime_url,
)
from rightsizing_loadtest.responses import REASON_CHARS, failure_reason
from rightsizing_loadtest.sigv4 import Credentials

FAKE_CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")


def make_job(**overrides: Any) -> LoadTestJob:
    settings: dict[str, Any] = {
        "run_id": "run-1",
        "candidate_id": "c01",
        "instance_type": "ml.c6i.xlarge",
        "endpoint_name": "rightsizing-run-1-c01",
        "region": "eu-west-1",
        "content_type": "text/csv",
        "payloads_uri": "s3://bucket/runs/run-1/payloads.json",
        "sla": {"percentile": "p95", "milliseconds": 100.0},
        "max_error_rate": 0.01,
        "load": LoadSettings(),
        "max_seconds": 600,
        "results_uri": "s3://bucket/runs/run-1/candidates/c01",
    }
    return LoadTestJob(**{**settings, **overrides})


def no_credentials() -> None:
    return None


def test_resolve_target_is_unsigned_loopback_when_endpoint_url_is_set() -> None:
    target = resolve_target(make_job(), {"ENDPOINT_URL": " http://127.0.0.1:8123/ "}, load_credentials=no_credentials)

    assert target == Target("http://127.0.0.1:8123", "rightsizing-run-1-c01", "eu-west-1")
    assert not target.signed


@pytest.mark.parametrize(
    "endpoint_url",
    ["http://192.0.2.10:8080", "https://runtime.sagemaker.us-east-1.amazonaws.com", "http://localhost.example.com:80"],
)
def test_resolve_target_refuses_non_loopback_endpoint_url(endpoint_url: str) -> None:
    with pytest.raises(EndpointConfigError, match="not loopback"):
        resolve_target(make_job(), {"ENDPOINT_URL": endpoint_url}, load_credentials=lambda: FAKE_CREDENTIALS)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1:21", "http(s) base URL"),
        ("http://127.0.0.1:8080/invocations", "without path"),
        ("http://127.0.0.1:port", "not a valid URL"),
    ],
)
def test_check_loopback_url_refuses_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(EndpointConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_loopback_url(url)


@pytest.mark.parametrize("url", ["http://localhost:1", "http://127.0.0.2:80", "http://[::1]:8080", "https://127.0.0.1"])
def test_check_loopback_url_accepts_loopback_hosts(url: str) -> None:
    assert check_loopback_url(url) == url


def test_resolve_target_is_signed_sagemaker_runtime_without_endpoint_url() -> None:
    target = resolve_target(make_job(), {}, load_credentials=lambda: FAKE_CREDENTIALS)

    assert target.signed and target.credentials is FAKE_CREDENTIALS
    assert target.base_url == "https://runtime.sagemaker.eu-west-1.amazonaws.com"
    assert (target.endpoint_name, target.region) == ("rightsizing-run-1-c01", "eu-west-1")


def test_resolve_target_ignores_aws_endpoint_url_overrides_for_signed_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    # AWS_ENDPOINT_URL points S3 at a local stand-in in tests; it must never redirect signed invocations.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://203.0.113.5:5000")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://203.0.113.5:5001")

    target = resolve_target(make_job(region="us-east-1"), {}, load_credentials=lambda: FAKE_CREDENTIALS)

    assert target.base_url == "https://runtime.sagemaker.us-east-1.amazonaws.com"


def test_resolve_target_refuses_signed_mode_without_credentials() -> None:
    with pytest.raises(EndpointConfigError, match="no AWS credentials were found"):
        resolve_target(make_job(), {}, load_credentials=no_credentials)


def test_resolve_target_refuses_an_endpoint_name_sagemaker_would_reject() -> None:
    with pytest.raises(EndpointConfigError, match="not a SageMaker endpoint name"):
        resolve_target(make_job(endpoint_name="bad/name"), {}, load_credentials=lambda: FAKE_CREDENTIALS)


@pytest.mark.parametrize("name", ["-leading", "trailing-", "a" * 64, "under_score", ""])
def test_invocations_path_refuses_invalid_endpoint_names(name: str) -> None:
    with pytest.raises(EndpointConfigError):
        invocations_path(name)


def test_invocations_path_is_invoke_endpoints_request_uri() -> None:
    assert invocations_path("my--endpoint-1") == "/endpoints/my--endpoint-1/invocations"


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us-east-1", "https://runtime.sagemaker.us-east-1.amazonaws.com"),
        ("cn-north-1", "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "https://runtime.sagemaker.us-gov-west-1.amazonaws.com"),
    ],
)
def test_runtime_url_uses_the_regions_partition(region: str, url: str) -> None:
    assert runtime_url(region) == url


def test_default_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    credentials = default_credentials()

    assert credentials is not None
    frozen = credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AKIDENV", "env-secret", "env-token")


def test_target_and_signer_modules_do_not_import_locust() -> None:
    # They run in the CLI and the test process, which must never be monkey-patched by gevent.
    code = (
        "import sys, rightsizing_loadtest.endpoint, rightsizing_loadtest.sigv4, rightsizing_loadtest.responses; "
        "import json; print(json.dumps(sorted(m for m in ('locust', 'gevent') if m in sys.modules)))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(completed.stdout) == []


def test_invocations_for_unsigned_target_posts_fixed_headers_to_invocations() -> None:
    invocations = invocations_for(Target("http://127.0.0.1:8080", "ep", "us-east-1"), ["a", b"b"], "text/csv")

    assert (invocations.base_url, invocations.path, invocations.signed) == (
        "http://127.0.0.1:8080",
        "/invocations",
        False,
    )
    assert [invocations.next_body() for _ in range(3)] == [b"a", b"b", b"a"]  # rotation
    assert invocations.headers_for(b"b") == {"Content-Type": "text/csv", "Accept": "*/*"}


def test_invocations_for_signed_target_signs_each_body_for_sagemaker_runtime() -> None:
    target = Target("https://runtime.sagemaker.eu-west-1.amazonaws.com", "ep-1", "eu-west-1", FAKE_CREDENTIALS)
    invocations = invocations_for(target, ["a", "b", "a"], "application/json")

    assert invocations.signed and invocations.path == "/endpoints/ep-1/invocations"
    headers_a, headers_b = invocations.headers_for(b"a"), invocations.headers_for(b"b")
    assert headers_a["Host"] == "runtime.sagemaker.eu-west-1.amazonaws.com"
    assert headers_a["Content-Type"] == "application/json"
    assert "/eu-west-1/sagemaker/aws4_request" in headers_a["Authorization"]
    assert headers_a["Authorization"] != headers_b["Authorization"]
    # By index (the closed-loop users) and by body (the open-loop pacer) give the same request; equal bodies
    # share one signature.
    assert invocations.headers_for_index(1) is headers_b
    assert invocations.headers_for_index(2)["Authorization"] == headers_a["Authorization"]


def test_failure_reason_labels_sagemaker_throttling() -> None:
    reason = failure_reason(
        400,
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
        b'{"message":"Rate exceeded"}',
    )
    assert reason == "throttled: HTTP 400 ThrottlingException: Rate exceeded"


def test_failure_reason_labels_http_429_as_throttled() -> None:
    assert failure_reason(429, None, b"Too Many Requests") == "throttled: HTTP 429: Too Many Requests"


def test_failure_reason_names_sagemaker_model_error_and_its_message() -> None:
    body = json.dumps(
        {
            "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
            "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/x",
            "Message": 'Received client error (400) from primary with message "bad input".',
            "OriginalStatusCode": 400,
        }
    ).encode()
    reason = failure_reason(424, "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/", body)
    assert reason == 'HTTP 424 ModelError: Received client error (400) from primary with message "bad input".'


def test_failure_reason_keeps_a_plain_body_excerpt_for_local_containers() -> None:
    assert failure_reason(500, None, b'{"message": "model error"}') == 'HTTP 500: {"message": "model error"}'
    assert failure_reason(503, None, b"") == "HTTP 503"


def test_failure_reason_is_short_for_large_or_binary_bodies() -> None:
    reason = failure_reason(502, None, b"\xff\xfe" + b"x  \n" * 10_000)
    assert reason.startswith("HTTP 502: ")
    assert len(reason) <= len("HTTP 502: ") + REASON_CHARS
