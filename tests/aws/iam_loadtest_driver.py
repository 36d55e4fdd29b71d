"""The load generator's AWS calls, recorded in a process of its own (importing Locust patches the importing process
with gevent, so it never runs inside pytest's).

``python iam_loadtest_driver.py RUNS.json OUT.json``: each run is a mode and the container's environment (JOB_URI,
the task definition's variables, credentials, AWS_ENDPOINT_URL of a moto server):

- ``task``: the entry point's own path, ``rightsizing_loadtest.task.execute``, with the search replaced by what
  the search does on AWS: sign one InvokeEndpoint and, for a job with worker tasks, start two workers, poll them
  and stop them through the real launcher (``task.worker_launcher``), as ``DistributedProbe`` does;
- ``worker``: ``rightsizing_loadtest.worker.main`` up to where Locust would start (its job, payloads, target).

Writes the recorded calls to OUT.json.
"""

# ruff: noqa: I001 (the import order is deliberate: see below)
from __future__ import annotations

# The entry points first, as in the container: Locust patches the process with gevent on import, before the rest.
from rightsizing_loadtest import ecs_workers, protocol, task, worker

import faulthandler
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from iam_calls import CallRecorder, record_invocation
from iam_fakes import FargateTasks, canned

from rightsizing.models.result import ProbeRecord
from rightsizing.search import summarize

MASTER_ADDRESS = "10.0.1.23"
WORKERS = 2


class WorkerReady(Exception):
    """Where the worker would start Locust: everything it reads from AWS has been read."""


def run_task(recorder: CallRecorder) -> None:
    def search(job: Any, target: Any, payloads: list[str], workdir: Path, started: float) -> Any:
        record_invocation(recorder, "LoadTestTaskRole", target, payloads, job.content_type)
        if job.load.distributed:
            launcher = task.worker_launcher(job, target)
            launcher.start(ecs_workers.MASTER_PORT, WORKERS)
            assert launcher.failure() is None
            launcher.stop()
        latency = {"p50": 10, "p90": 20, "p95": 30, "p99": 40}
        record = ProbeRecord(
            index=0,
            users=4,
            seconds=3,
            requests=300,
            failures=0,
            rps=100.0,
            error_rate=0,
            latency_ms=latency,
            passed=True,
        )
        stats = workdir / "locust_stats.csv"
        stats.write_text("Type,Name\n")
        return summarize([record], "converged"), task.RequestTotals(requests=300), {"locust_stats": stats}, 3.0

    task.run_search = search
    ecs_workers.read_own_address = lambda _: MASTER_ADDRESS
    with recorder.acting_as("LoadTestTaskRole"):
        task.execute(task.read_config(), time.monotonic())


def run_worker(recorder: CallRecorder) -> None:
    def generator_for(job: Any, target: Any, payloads: list[str], timeout: float) -> Any:
        record_invocation(recorder, "LoadTestWorkerRole", target, payloads, job.content_type)
        raise WorkerReady

    worker.generator_for = generator_for
    with recorder.acting_as("LoadTestWorkerRole"):
        try:
            worker.main()
        except WorkerReady:
            return
    raise AssertionError(f"the worker stopped before reading its job ({protocol.MASTER_HOST_ENV} set?)")


def main(runs_file: str, out: str) -> None:
    """Each run of ``runs_file`` ([{"mode": "task"|"worker", "environment": {…}}]) in turn, in this one process
    (importing Locust costs seconds); every recorded call to ``out``."""
    recorder = CallRecorder(canned(FargateTasks()))

    class Installer:  # CallRecorder.install takes a pytest-style monkeypatch
        @staticmethod
        def setattr(target: Any, name: str, value: Any) -> None:
            setattr(target, name, value)

    recorder.install(Installer())
    for run in json.loads(Path(runs_file).read_text()):
        saved = dict(os.environ)
        os.environ.update(run["environment"])
        try:
            {"task": run_task, "worker": run_worker}[run["mode"]](recorder)
        finally:
            faulthandler.cancel_dump_traceback_later()
            os.environ.clear()
            os.environ.update(saved)
    Path(out).write_text(json.dumps([asdict(call) for call in recorder.calls]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
