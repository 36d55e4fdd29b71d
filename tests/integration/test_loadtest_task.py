"""The load generator end to end: ``python -m rightsizing_loadtest.task`` against a ground-truth server.

The task always runs in a subprocess: importing Locust monkey-patches the importing process with gevent.

The ground truth (benchmarks/ground_truth.py) has ``SLOTS`` slots that each take ``SERVICE_SECONDS`` per request,
so its capacity is SLOTS / SERVICE_SECONDS requests per second. The stepped search only tries user counts 1, 2, 4, …
for ~1 s each, so the check here is loose (±40 %); the tight accuracy target belongs to the adaptive-search
benchmark.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from loopback import SERVICE_SECONDS, TRUE_CAPACITY_RPS, TaskRun, run_load_task

from rightsizing.models.plan import LoadTestJob
from rightsizing.models.request import LoadSettings
from rightsizing.models.result import LoadTestResult, ProbeRecord
from rightsizing.store import LocalStore, join_uri, local_uri, put_json

MAX_SECONDS = 15
PROCESS_SLACK_SECONDS = 5  # interpreter start-up and teardown around the job's own bound
LOCUST_ARTIFACTS = ("locust_stats", "locust_stats_history", "locust_failures", "locust_exceptions", "locust_report")


@dataclass
class Job:
    uri: str
    results_dir: Path


def write_job(tmp_path: Path, **overrides: Any) -> Job:
    payloads_uri = put_json(local_uri(tmp_path / "payloads.json"), ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3"])
    results_dir = tmp_path / "results"
    settings: dict[str, Any] = {
        "run_id": "run-1",
        "candidate_id": "local-small-0",
        "instance_type": "local.small",
        "endpoint_name": "rightsizing-run-1-local-small-0",
        "region": "us-east-1",
        "content_type": "text/csv",
        "payloads_uri": payloads_uri,
        "sla": {"percentile": "p95", "milliseconds": 200.0},
        "max_error_rate": 0.01,
        "load": LoadSettings(mode="stepped", step_seconds=1, max_users=64),
        "max_seconds": MAX_SECONDS,
        "results_uri": local_uri(results_dir),
    }
    settings.update(overrides)
    job = LoadTestJob(**settings)
    return Job(put_json(local_uri(tmp_path / "job.json"), job.model_dump(mode="json")), results_dir)


def run_task(
    job_uri: str | None, endpoint_url: str | None, timeout: float = MAX_SECONDS + 30, *, scrub_aws: bool = False
) -> TaskRun:
    env = {k: v for k, v in os.environ.items() if k not in ("JOB_URI", "ENDPOINT_URL")}
    if scrub_aws:  # no credential of any kind: a developer's real ones must never send traffic to AWS from a test
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        env.update(
            AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true"
        )
    if job_uri is not None:
        env["JOB_URI"] = job_uri
    if endpoint_url is not None:
        env["ENDPOINT_URL"] = endpoint_url
    return run_load_task(env, timeout)


def read_result(job: Job) -> LoadTestResult:
    return LoadTestResult.model_validate_json((job.results_dir / "result.json").read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_task_measures_capacity_of_ground_truth_server(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    job = write_job(tmp_path)

    run = run_task(job.uri, server.url)

    assert run.returncode == 0, run.stderr
    assert run.seconds < MAX_SECONDS + PROCESS_SLACK_SECONDS
    result = read_result(job)
    assert result.candidate_id == "local-small-0"
    assert result.mode == "stepped"
    # Loose: a quick closed-loop step search; the adaptive search's benchmark owns the tight accuracy target.
    assert 0.6 * TRUE_CAPACITY_RPS <= result.sustainable_rps <= 1.4 * TRUE_CAPACITY_RPS, result.stop_reason
    assert result.saturation_rps <= 1.15 * TRUE_CAPACITY_RPS  # no server beats its own capacity
    assert result.sustainable_rps <= result.saturation_rps
    assert result.latency_at_sustainable is not None
    assert result.latency_at_sustainable.p50 >= SERVICE_SECONDS * 1000 * 0.9
    assert result.latency_at_sustainable.p95 <= 200.0
    assert result.error_rate_at_sustainable == 0.0
    assert result.stop_reason
    assert not result.generator_limited
    assert [p.users for p in result.probes][:3] == [1, 2, 4]
    assert all(p.generator_cpu_percent is not None and p.generator_cpu_percent < 90 for p in result.probes)
    assert result.requests >= sum(p.requests for p in result.probes) > 0
    assert result.failures == 0
    assert server.invocations >= result.requests  # every counted request really reached the server


def test_task_writes_locust_artifacts_and_trace(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    job = write_job(tmp_path, max_seconds=12, load=LoadSettings(mode="stepped", step_seconds=1, max_users=2))

    run = run_task(job.uri, server.url)

    assert run.returncode == 0, run.stderr
    result = read_result(job)
    assert set(LOCUST_ARTIFACTS) | {"trace"} <= set(result.artifacts)
    paths = {name: LocalStore.path_of(uri) for name, uri in result.artifacts.items()}
    assert all(path.is_file() and path.parent == job.results_dir for path in paths.values())
    assert "POST,/invocations," in paths["locust_stats"].read_text()
    history = paths["locust_stats_history"].read_text().splitlines()
    assert history[0].startswith("Timestamp,User Count")
    assert any(",POST,/invocations," in row for row in history[1:])  # full_history: per-endpoint rows
    assert paths["locust_failures"].read_text().startswith("Method,Name,Error")
    assert paths["locust_exceptions"].read_text().startswith("Count,Message")
    assert "<html" in paths["locust_report"].read_text().lower()
    trace = [ProbeRecord.model_validate(p) for p in json.loads(paths["trace"].read_text())]
    assert trace == result.probes
    assert result.stop_reason.startswith("Reached max_users (2)")


def test_task_prints_one_json_event_per_line(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    job = write_job(tmp_path, max_seconds=12, load=LoadSettings(mode="stepped", step_seconds=1, max_users=2))

    run = run_task(job.uri, server.url)

    assert run.returncode == 0, run.stderr
    events = run.events
    assert [e["event"] for e in events] == ["start", "probe", "probe", "done"]
    probe = events[1]
    assert {"index", "users", "rps", "p95_ms", "error_rate", "passed", "generator_cpu_percent"} <= set(probe)
    assert probe["index"] == 0 and probe["users"] == 1 and probe["passed"] is True
    done = events[-1]
    assert done["sustainable_rps"] == read_result(job).sustainable_rps
    assert done["stop_reason"] and done["result_uri"] == join_uri(local_uri(job.results_dir), "result.json")


def test_task_records_errors_when_endpoint_returns_500(tmp_path: Path, start_server: Callable) -> None:
    server = start_server(service_seconds=0.01, status=500)
    job = write_job(tmp_path)

    run = run_task(job.uri, server.url)

    assert run.returncode == 0, run.stderr  # a measured "nothing passes" is a valid result
    assert run.seconds < MAX_SECONDS + PROCESS_SLACK_SECONDS
    result = read_result(job)
    assert result.sustainable_rps == 0.0
    assert result.latency_at_sustainable is None
    assert result.probes and all(p.error_rate == 1.0 and not p.passed for p in result.probes)
    assert result.failures == result.requests > 0
    assert "error rate 100.0%" in result.stop_reason
    failures_csv = LocalStore.path_of(result.artifacts["locust_failures"]).read_text()
    assert "HTTP 500" in failures_csv


def test_task_fails_when_endpoint_unreachable(tmp_path: Path) -> None:
    job = write_job(tmp_path)

    run = run_task(job.uri, f"http://127.0.0.1:{free_port()}")

    assert run.returncode == 1
    assert "unreachable" in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("rightsizing-loadtest: endpoint")
    assert not (job.results_dir / "result.json").exists()
    assert (job.results_dir / "trace.json").is_file()  # kept for diagnosis


def test_task_stops_within_bounds_when_endpoint_hangs(tmp_path: Path, start_server: Callable) -> None:
    server = start_server(hang=True)
    job = write_job(tmp_path)

    run = run_task(job.uri, server.url)

    assert run.returncode == 1
    assert run.seconds < MAX_SECONDS + PROCESS_SLACK_SECONDS
    assert "never answered" in run.stderr
    assert run.events[-1]["event"] == "error"


def test_task_fails_when_max_seconds_leaves_no_time_for_a_step(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    job = write_job(tmp_path, max_seconds=2)

    run = run_task(job.uri, server.url)

    assert run.returncode == 1
    assert "no load step was measured" in run.stderr
    assert run.seconds < 2 + PROCESS_SLACK_SECONDS
    assert not (job.results_dir / "result.json").exists()


@pytest.mark.parametrize(
    "endpoint_url",
    ["http://192.0.2.10:8080", "https://runtime.sagemaker.us-east-1.amazonaws.com", "http://localhost.example.com:80"],
)
def test_task_refuses_non_loopback_endpoint(tmp_path: Path, endpoint_url: str) -> None:
    job = write_job(tmp_path)

    run = run_task(job.uri, endpoint_url)

    assert run.returncode == 2
    assert "not loopback" in run.stderr
    assert not job.results_dir.exists()


def test_task_refuses_non_http_endpoint(tmp_path: Path) -> None:
    job = write_job(tmp_path)

    run = run_task(job.uri, "ftp://127.0.0.1:21")

    assert run.returncode == 2
    assert "http(s) base URL" in run.stderr


def test_task_refuses_signed_mode_without_credentials(tmp_path: Path) -> None:
    job = write_job(tmp_path)

    run = run_task(job.uri, None, scrub_aws=True)

    assert run.returncode == 2
    assert "ENDPOINT_URL is not set" in run.stderr
    assert "SigV4" in run.stderr and "no AWS credentials were found" in run.stderr
    assert not (job.results_dir / "result.json").exists()


def test_task_fails_on_unreadable_job(tmp_path: Path) -> None:
    run = run_task(local_uri(tmp_path / "missing-job.json"), "http://127.0.0.1:9")

    assert run.returncode == 1
    assert "cannot read the load-test job" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_adaptive_task_brackets_the_capacity_of_ground_truth_server(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    load = LoadSettings(warmup_seconds=1, step_seconds=1, min_completions=200, max_probe_seconds=3)
    job = write_job(tmp_path, load=load, max_seconds=45)

    run = run_task(job.uri, server.url, timeout=45 + 30)

    assert run.returncode == 0, run.stderr
    result = read_result(job)
    assert result.mode == "adaptive"
    kinds = [p.kind for p in result.probes]
    assert kinds[0] == "warmup" and "closed" in kinds and "open" in kinds
    open_probes = [p for p in result.probes if p.kind == "open"]
    assert all(p.target_rps and p.late_share is not None for p in open_probes)
    # Fixed service time and constant-rate arrivals: no queueing below capacity, so the SLA-bound rate is the
    # capacity. Threaded Python server on a shared 2-core machine: allow 20 % (the benchmark measures tightly).
    assert 0.8 * TRUE_CAPACITY_RPS <= result.sustainable_rps <= 1.1 * TRUE_CAPACITY_RPS, result.stop_reason
    best = max((p for p in open_probes if p.passed), key=lambda p: p.rps)
    assert result.sustainable_rps == best.rps  # the answer is an open-loop, SLA-certified rate
    assert not result.generator_limited, result.stop_reason


@pytest.mark.slow
def test_ramp_task_reports_the_classic_answer(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    job = write_job(tmp_path, load=LoadSettings(mode="ramp", max_users=500), max_seconds=20)

    run = run_task(job.uri, server.url, timeout=20 + 30)

    assert run.returncode == 0, run.stderr
    result = read_result(job)
    assert result.mode == "ramp"
    assert [p.kind for p in result.probes] == ["ramp"]
    assert result.probes[0].users > 10  # users were ramped, 5 per second
    assert 0 < result.sustainable_rps <= 1.1 * TRUE_CAPACITY_RPS
    assert result.stop_reason.startswith("Classic ramp")


def test_phases_task_grows_users_per_the_phase(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    phases = [{"initial_users": 1, "spawn_rate_per_minute": 180, "duration_seconds": 4}]
    load = LoadSettings(mode="phases", step_seconds=1, phases=phases)  # type: ignore[arg-type]
    job = write_job(tmp_path, load=load, max_seconds=20)

    run = run_task(job.uri, server.url, timeout=20 + 30)

    assert run.returncode == 0, run.stderr
    result = read_result(job)
    assert result.mode == "phases"
    assert [p.users for p in result.probes] == [1, 4, 7, 10]  # 1 + 3 users/s, one slice per second
    assert all(p.note.startswith("phase 1 of 1") for p in result.probes)
    assert result.stop_reason.startswith("All 1 phase completed")
    # 10 users on 4 slots of 25 ms: the ceiling; the SLA (p95 200 ms) holds throughout.
    assert 0.8 * TRUE_CAPACITY_RPS <= result.sustainable_rps <= 1.1 * TRUE_CAPACITY_RPS
    assert server.invocations >= result.requests > 0
