"""The container entry point's S3 path, offline: job and payloads read from S3, every artefact written to S3.

``python -m rightsizing_loadtest.task`` runs as a subprocess, exactly as on ECS Fargate, with ``JOB_URI=s3://…``.
S3 is moto in server mode on 127.0.0.1, reached through ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3`` with fake
credentials; the endpoint is a small server on 127.0.0.1 (``ENDPOINT_URL``). Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from ground_truth import BackgroundServer
from loopback import TaskRun, run_load_task
from moto.server import ThreadedMotoServer

from rightsizing.models.plan import LoadTestJob
from rightsizing.models.request import LoadSettings
from rightsizing.models.result import LoadTestResult, ProbeRecord

BUCKET = "rightsizing-test-artifacts"
RUN_PREFIX = "runs/run-1"
MAX_SECONDS = 10
PROCESS_SLACK_SECONDS = 10  # interpreter start-up (Locust import), S3 uploads, teardown
ARTIFACTS = {
    "result.json": "application/json",
    "trace.json": "application/json",
    "locust_stats.csv": "text/csv",
    "locust_stats_history.csv": "text/csv",
    "locust_failures.csv": "text/csv",
    "locust_exceptions.csv": "text/csv",
    "locust_report.html": "text/html",
}


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_url: str) -> Iterator[Any]:
    client = boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def endpoint(start_server: Callable[..., BackgroundServer]) -> BackgroundServer:
    """Answers every invocation after 5 ms; never the bottleneck (more slots than the generator has users)."""
    return start_server(slots=256, service_seconds=0.005)


def task_environment(s3_url: str, **overrides: str) -> dict[str, str]:
    """The parent's environment minus anything AWS (no real credentials, profiles or endpoints leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("JOB_URI", "ENDPOINT_URL")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=s3_url,
        AWS_ENDPOINT_URL_S3=s3_url,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v}  # an override of "" removes the variable


def run_task(env: dict[str, str]) -> TaskRun:
    return run_load_task(env, MAX_SECONDS + 30)


def put_job(s3: Any, **overrides: Any) -> tuple[str, str]:
    """Upload payloads and a short stepped job; returns (job URI, results URI)."""
    s3.put_object(Bucket=BUCKET, Key=f"{RUN_PREFIX}/payloads.json", Body=json.dumps(["5.1,3.5,1.4,0.2", "6.2,2.9"]))
    results_uri = f"s3://{BUCKET}/{RUN_PREFIX}/candidates/c01"
    settings: dict[str, Any] = {
        "run_id": "run-1",
        "candidate_id": "c01",
        "instance_type": "local.small",
        "endpoint_name": "rightsizing-run-1-c01",
        "region": "us-east-1",
        "content_type": "text/csv",
        "payloads_uri": f"s3://{BUCKET}/{RUN_PREFIX}/payloads.json",
        "sla": {"percentile": "p95", "milliseconds": 200.0},
        "max_error_rate": 0.01,
        "load": LoadSettings(mode="stepped", step_seconds=1, max_users=2),
        "max_seconds": MAX_SECONDS,
        "results_uri": results_uri,
    }
    job = LoadTestJob(**{**settings, **overrides})
    key = f"{RUN_PREFIX}/candidates/c01/job.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=job.model_dump_json())
    return f"s3://{BUCKET}/{key}", results_uri


def keys_under(s3: Any, prefix: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {item["Key"].removeprefix(prefix) for item in listed}


def assert_one_line_failure(run: TaskRun, *fragments: str) -> None:
    assert run.returncode == 1, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("rightsizing-loadtest: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert run.events[-1]["event"] == "error"


def test_task_reads_job_from_s3_and_writes_every_artifact_to_s3(
    s3: Any, s3_url: str, endpoint: BackgroundServer
) -> None:
    job_uri, results_uri = put_job(s3)

    run = run_task(task_environment(s3_url, JOB_URI=job_uri, ENDPOINT_URL=endpoint.url))

    assert run.returncode == 0, run.stderr
    assert run.seconds < MAX_SECONDS + PROCESS_SLACK_SECONDS
    prefix = results_uri.removeprefix(f"s3://{BUCKET}/") + "/"
    assert set(ARTIFACTS) <= keys_under(s3, prefix)
    for name, content_type in ARTIFACTS.items():
        head = s3.head_object(Bucket=BUCKET, Key=prefix + name)
        assert head["ContentLength"] > 0 and head["ContentType"] == content_type, name
    result = LoadTestResult.model_validate_json(s3.get_object(Bucket=BUCKET, Key=prefix + "result.json")["Body"].read())
    assert result.candidate_id == "c01" and result.probes and result.failures == 0
    assert 0 < result.requests <= endpoint.invocations  # the payloads from S3 really reached the endpoint
    assert all(uri.startswith(results_uri + "/") for uri in result.artifacts.values())
    assert {uri.rsplit("/", 1)[1] for uri in result.artifacts.values()} == set(ARTIFACTS) - {"result.json"}
    trace = json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + "trace.json")["Body"].read())
    assert [ProbeRecord.model_validate(p) for p in trace] == result.probes
    stats_csv = s3.get_object(Bucket=BUCKET, Key=prefix + "locust_stats.csv")["Body"].read().decode()
    assert "POST,/invocations," in stats_csv
    assert run.events[-1] == {**run.events[-1], "event": "done", "result_uri": f"{results_uri}/result.json"}


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing-key", ["cannot read the load-test job at s3://", "NoSuchKey"]),
        ("missing-bucket", ["cannot read the load-test job at s3://no-such-bucket-here/", "NoSuchBucket"]),
        ("invalid-document", ["cannot read the load-test job at s3://", "Field required"]),
        ("missing-payloads", ["cannot read payloads at s3://", "NoSuchKey"]),
    ],
)
def test_task_exits_1_with_one_line_when_s3_job_is_unreadable(
    s3: Any, s3_url: str, endpoint: BackgroundServer, case: str, fragments: list[str]
) -> None:
    job_uri, results_uri = put_job(s3)
    if case == "missing-key":
        job_uri = f"s3://{BUCKET}/{RUN_PREFIX}/candidates/c01/no-job.json"
    elif case == "missing-bucket":
        job_uri = "s3://no-such-bucket-here/job.json"
    elif case == "invalid-document":
        s3.put_object(Bucket=BUCKET, Key=job_uri.removeprefix(f"s3://{BUCKET}/"), Body=b'{"run_id": "run-1"}')
    else:
        s3.delete_object(Bucket=BUCKET, Key=f"{RUN_PREFIX}/payloads.json")

    run = run_task(task_environment(s3_url, JOB_URI=job_uri, ENDPOINT_URL=endpoint.url))

    assert_one_line_failure(run, *fragments)
    assert endpoint.invocations == 0  # nothing was sent
    assert not set(ARTIFACTS) & keys_under(s3, results_uri.removeprefix(f"s3://{BUCKET}/") + "/")


def test_task_exits_1_with_one_line_when_s3_is_unreachable(s3_url: str, endpoint: BackgroundServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    dead_s3 = f"http://127.0.0.1:{closed_port}"
    env = task_environment(s3_url, JOB_URI=f"s3://{BUCKET}/job.json", ENDPOINT_URL=endpoint.url, AWS_MAX_ATTEMPTS="1")
    env.update(AWS_ENDPOINT_URL=dead_s3, AWS_ENDPOINT_URL_S3=dead_s3)

    run = run_task(env)

    assert_one_line_failure(run, "Could not connect to the endpoint URL")
    assert run.seconds < PROCESS_SLACK_SECONDS


def test_task_exits_1_with_one_line_without_aws_credentials(s3_url: str, endpoint: BackgroundServer) -> None:
    env = task_environment(
        s3_url,
        JOB_URI=f"s3://{BUCKET}/job.json",
        ENDPOINT_URL=endpoint.url,
        AWS_ACCESS_KEY_ID="",
        AWS_SECRET_ACCESS_KEY="",
    )

    run = run_task(env)

    assert_one_line_failure(run, "Unable to locate credentials")
