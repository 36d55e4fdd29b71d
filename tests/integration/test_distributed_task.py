"""Distributed mode: the task as Locust master with worker processes, against the ground-truth server.

Each test runs the generator in subprocesses (importing Locust patches the importing process with gevent).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from test_loadtest_task import TRUE_CAPACITY_RPS, read_result, run_task, write_job

from rightsizing.models.request import LoadSettings
from rightsizing.store import LocalStore

WORKER_MODULE = "rightsizing_loadtest.worker"


def _workers_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
def test_two_workers_find_the_capacity_together(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    load = LoadSettings(
        warmup_seconds=1, step_seconds=1, min_completions=200, max_probe_seconds=3, workers=2, max_workers=2
    )
    job = write_job(tmp_path, load=load, max_seconds=45)

    run = run_task(job.uri, server.url, timeout=45 + 30)

    assert run.returncode == 0, run.stderr
    start = next(e for e in run.events if e["event"] == "start")
    assert start["workers"] == 2
    result = read_result(job)
    assert 0.8 * TRUE_CAPACITY_RPS <= result.sustainable_rps <= 1.1 * TRUE_CAPACITY_RPS, result.stop_reason
    measured = [p for p in result.probes if p.kind != "warmup"]
    assert measured and all(p.generators == 2 for p in measured)
    assert not result.generator_limited
    # The master's Locust stats hold both workers' requests: every request the search counted, and more.
    stats = LocalStore.path_of(result.artifacts["locust_stats"]).read_text().splitlines()
    aggregated = next(row for row in stats if ",Aggregated," in row).split(",")
    assert int(aggregated[2]) >= sum(p.requests for p in measured)
    assert server.invocations >= result.requests > 0


PROBE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from rightsizing_loadtest.distributed import DistributedProbe
    from rightsizing_loadtest.generator import generator_for
    from rightsizing_loadtest.job_io import load_job, load_payloads
    from rightsizing_loadtest.endpoint import resolve_target
    import os

    job = load_job(os.environ["JOB_URI"])
    target = resolve_target(job)
    user_class, _ = generator_for(job, target, load_payloads(job.payloads_uri), 5.0)
    probe = DistributedProbe(user_class, target.base_url, Path(sys.argv[1]), workers=1, max_workers=2,
                             settle_seconds=0.5, drain_seconds=1.0)
    out = {}
    one = probe.measure(4, 1.5)
    out["one"] = [one.generators, one.rps]
    out["added"] = probe.add_generator()
    two = probe.measure(4, 1.5)
    out["two"] = [two.generators, two.rps]
    paced = probe.measure_rate(100.0, 2.0, 2, 5.0)
    out["paced"] = [paced.generators, paced.requests, paced.failures, list(paced.window_rps)]
    out["third"] = probe.add_generator()
    out["pids"] = [p.pid for p in probe._launcher.processes]
    probe.close()
    out["exit_codes"] = [p.returncode for p in probe._launcher.processes]
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_a_worker_added_mid_test_takes_its_share(tmp_path: Path, start_server: Callable) -> None:
    server = start_server()
    job = write_job(tmp_path)
    env = {**os.environ, "JOB_URI": job.uri, "ENDPOINT_URL": server.url}

    completed = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT, str(tmp_path / "artifacts")],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert completed.returncode == 0, completed.stderr
    out = json.loads(completed.stdout.strip().splitlines()[-1])
    assert out["one"][0] == 1 and out["two"][0] == 2 and out["added"] is True
    # 4 users on 4 slots of 25 ms: 160 RPS whether one process or two run them (users were rebalanced).
    assert 0.8 * TRUE_CAPACITY_RPS <= out["one"][1] <= 1.1 * TRUE_CAPACITY_RPS
    assert 0.8 * TRUE_CAPACITY_RPS <= out["two"][1] <= 1.1 * TRUE_CAPACITY_RPS
    generators, requests, failures, window_rps = out["paced"]
    # Each worker paced 50/s: only both together make 100/s for 2 s.
    assert generators == 2 and 190 <= requests <= 210 and failures == 0
    assert all(90 <= rps <= 110 for rps in window_rps)
    assert out["third"] is False  # max_workers reached
    assert out["exit_codes"] == [0, 0]  # workers quit when told
    assert not _workers_alive(out["pids"])


@contextlib.contextmanager
def _master_with_two_workers(
    tmp_path: Path, server: Any, stderr: int
) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """The task as master with its two worker processes started (their pids); the task is killed at the end."""
    load = LoadSettings(warmup_seconds=5, step_seconds=5, workers=2, max_workers=2)
    job = write_job(tmp_path, load=load, max_seconds=60)
    env = {**os.environ, "JOB_URI": job.uri, "ENDPOINT_URL": server.url}
    task = subprocess.Popen(
        [sys.executable, "-m", "rightsizing_loadtest.task"], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    try:
        assert task.stdout is not None
        assert json.loads(task.stdout.readline())["event"] == "start"
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = [p.pid for p in psutil.Process(task.pid).children() if WORKER_MODULE in " ".join(p.cmdline())]
            time.sleep(0.2)
        assert len(workers) == 2
        yield task, workers
    finally:
        if task.poll() is None:
            task.kill()
            task.wait()


def test_workers_exit_when_the_master_is_killed(tmp_path: Path, start_server: Callable) -> None:
    with _master_with_two_workers(tmp_path, start_server(), subprocess.DEVNULL) as (task, workers):
        task.send_signal(signal.SIGKILL)  # no chance to say quit
        task.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _workers_alive(workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _workers_alive(workers)


def test_a_stopped_master_stops_its_workers_first(tmp_path: Path, start_server: Callable) -> None:
    # ECS StopTask sends SIGTERM to the task's main process only; its workers must not outlive it.
    with _master_with_two_workers(tmp_path, start_server(), subprocess.PIPE) as (task, workers):
        time.sleep(1.0)  # into the search, past the workers' start-up
        task.send_signal(signal.SIGTERM)
        _, stderr = task.communicate(timeout=15)
        assert task.returncode == 1
        assert "stopped (SIGTERM); stopping the load-generator workers" in stderr
        # Stopped before the master exited, not by the orphan watch: gone already.
        assert not _workers_alive(workers)
