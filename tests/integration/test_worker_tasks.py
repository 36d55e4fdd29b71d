"""Workers as Fargate tasks of their own (``load.worker_placement: tasks``): the master starts them with RunTask,
they connect to its address and measure together, and every task is stopped at the end; a worker task that dies
before connecting fails the test with its reason. ECS is ``mini_fargate`` (API-model-checked calls, real worker
processes); the endpoint is the ground-truth server. Plus the task's refusals when worker tasks cannot run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopback import run_load_task
from test_loadtest_task import write_job

from rightsizing.models.request import LoadSettings

MINI_FARGATE = Path(__file__).with_name("mini_fargate.py")
TASKS = LoadSettings(workers=2, max_workers=2, worker_placement="tasks")


def _run_mini_fargate(tmp_path: Path, job_uri: str, endpoint_url: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / "out.json"
    env = {**os.environ, "JOB_URI": job_uri, "ENDPOINT_URL": endpoint_url}
    completed = subprocess.run(
        [sys.executable, str(MINI_FARGATE), str(out), *extra], env=env, capture_output=True, text=True, timeout=90
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(out.read_text())


def test_worker_tasks_connect_to_the_master_measure_together_and_are_stopped(
    tmp_path: Path, start_server: Callable
) -> None:
    server = start_server()
    job = write_job(tmp_path, load=TASKS)

    out = _run_mini_fargate(tmp_path, job.uri, server.url)

    # Each worker task paced 50/s: only both together make 100/s for 2 s.
    assert out["paced"]["generators"] == 2
    assert 190 <= out["paced"]["requests"] <= 210 and out["paced"]["failures"] == 0
    tasks = out["tasks"]
    assert len(tasks) == 2 and out["calls"].count("RunTask") == 2
    for task in tasks:
        assert task["group"] == "rightsizing:run-1" and task["startedBy"] == "rightsizing/run-1"
        assert {"key": "rightsizing:run-id", "value": "run-1"} in task["tags"]
        assert task["desiredStatus"] == "STOPPED" and task["stoppedReason"].startswith("rightsizing: load test over")
    assert out["calls"].count("StopTask") == 2
    assert all(code is not None for code in out["exit_codes"])  # no worker process left running


def test_a_worker_task_that_dies_before_connecting_fails_with_its_reason(
    tmp_path: Path, start_server: Callable
) -> None:
    server = start_server()
    job = write_job(tmp_path, load=TASKS)

    out = _run_mini_fargate(tmp_path, job.uri, server.url, "broken")

    assert "stopped before connecting: Essential container in task exited" in out["error"]
    assert "container locust: exit 1" in out["error"]  # the worker refused to start: no JOB_URI
    assert all(task["desiredStatus"] == "STOPPED" for task in out["tasks"])
    assert all(code is not None for code in out["exit_codes"])


def _task_env(job_uri: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECS_", "RIGHTSIZING_"))}
    env.pop("ENDPOINT_URL", None)
    return {**env, "JOB_URI": job_uri, **extra}


def test_the_task_refuses_worker_tasks_for_a_local_endpoint(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    job = write_job(tmp_path, load=TASKS)

    run = run_load_task(_task_env(job.uri, ENDPOINT_URL=server.url), timeout=60)

    assert run.returncode == 2, run.stderr
    assert "worker_placement 'tasks'" in run.stderr and "loopback ENDPOINT_URL" in run.stderr
    assert server.invocations == 0  # refused before any request


def test_the_task_refuses_worker_tasks_without_the_stack_settings(tmp_path: Path) -> None:
    job = write_job(tmp_path, load=TASKS)
    # Signed mode needs credentials to get as far as the launcher; these are never used (nothing is sent).
    env = _task_env(
        job.uri,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
    )

    run = run_load_task(env, timeout=60)

    assert run.returncode == 2, run.stderr
    assert "RIGHTSIZING_WORKER_CLUSTER" in run.stderr and "template.yaml" in run.stderr
    assert not (job.results_dir / "result.json").exists()
