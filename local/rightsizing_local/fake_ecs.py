"""Local ECS: RunTask starts the load-generator container's entry point as a process on this machine.

The process is the same ``python -m rightsizing_loadtest.task`` the Fargate image runs, with the same JOB_URI; the
only addition is ENDPOINT_URL, the local endpoint's 127.0.0.1 address (on AWS the task signs requests to SageMaker).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsizing_local.aws_errors import ACCOUNT, REGION, client_error
from rightsizing_local.events import ProgressSink, no_progress
from rightsizing_local.fake_sagemaker import LocalSageMaker, OnePage


@dataclass
class LocalTask:
    arn: str
    cluster: str
    endpoint_name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    group: str = ""
    started_by: str = ""
    started: float = field(default_factory=time.time)
    stopped: float | None = None  # when the exit was first seen (the .sync integration polls every 0.5 s)
    stopped_reason: str | None = None


# The task size the stack's task definition declares by default (template.yaml LoadTestCpu / LoadTestMemory).
LOCAL_TASK_CPU, LOCAL_TASK_MEMORY = "2048", "4096"


class LocalEcs:
    def __init__(self, sagemaker: LocalSageMaker, workdir: Path, progress: ProgressSink = no_progress) -> None:
        self._sagemaker = sagemaker
        self._workdir = workdir
        self._progress = progress
        self._lock = threading.Lock()
        self._tasks: dict[str, LocalTask] = {}
        self._stopping = False
        self.process_groups: list[int] = []  # every load generator started (own session each)

    def run_task(
        self, Cluster: str, Overrides: dict[str, Any], Group: str = "", StartedBy: str = "", **_: Any
    ) -> dict[str, Any]:
        environment = {
            item["Name"]: item["Value"] for item in Overrides["ContainerOverrides"][0].get("Environment", [])
        }
        endpoint_name = environment["ENDPOINT_NAME"]
        if self._stopping:
            raise client_error("RunTask", "local run is shutting down", "ServerException", 500)
        task_id = uuid.uuid4().hex
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{Cluster.rsplit('/', 1)[-1]}/{task_id}"
        log_path = self._workdir / "loadtests" / f"{endpoint_name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **environment, "ENDPOINT_URL": self._sagemaker.endpoint_url(endpoint_name)}
        with open(log_path, "wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "rightsizing_loadtest.task"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C goes to the CLI, which stops tasks in order
            )
        task = LocalTask(arn, Cluster, endpoint_name, process, log_path, group=Group, started_by=StartedBy)
        self.process_groups.append(process.pid)
        with self._lock:
            self._tasks[arn] = task
        threading.Thread(target=self._relay_progress, args=(task,), daemon=True).start()
        self._progress(endpoint_name, "load_test", "load generator started")
        return {"Tasks": [{"TaskArn": arn, "ClusterArn": Cluster, "LastStatus": "PROVISIONING"}], "Failures": []}

    def describe_tasks(
        self, cluster: str | None = None, tasks: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        arns = tasks or kwargs.get("Tasks") or []
        described = [self._describe(self._tasks[arn]) for arn in arns if arn in self._tasks]
        # The interpreter reads both the API casing (tasks[0].lastStatus) and Step Functions' (Tasks[0]).
        camel = [{"taskArn": d["TaskArn"], "lastStatus": d["LastStatus"]} for d in described]
        return {"tasks": camel, "Tasks": described, "Failures": []}

    def stop_task(self, cluster: str, task: str, reason: str = "", **_: Any) -> dict[str, Any]:
        """StopTask: SIGTERM, as ECS sends, then SIGKILL after the grace period (here 5 s)."""
        with self._lock:
            found = self._tasks.get(task)
        if found is None:
            raise client_error("StopTask", "The referenced task was not found.", "InvalidParameterException")
        if found.process.poll() is None:
            found.stopped_reason = reason or "Task stopped by user"
        _terminate(found.process)
        return {"task": self._describe(found)}

    def list_tasks(self, cluster: str, startedBy: str | None = None, **_: Any) -> dict[str, Any]:
        """Running tasks (ListTasks' default desiredStatus), filtered by ``startedBy`` as ECS does."""
        with self._lock:
            tasks = list(self._tasks.values())
        running = [t.arn for t in tasks if t.process.poll() is None and startedBy in (None, t.started_by)]
        return {"taskArns": running}

    def get_paginator(self, operation: str) -> OnePage:
        return OnePage(getattr(self, operation))

    def stop_all(self) -> None:
        self._stopping = True
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            if task.process.poll() is None:
                task.stopped_reason = "Task stopped by local run shutdown"
            _terminate(task.process)  # also when the task's first process is gone: its children may not be

    def running(self, group: str | None = None) -> list[str]:
        """Tasks still running (of one task group, e.g. ``rightsizing:<run id>``)."""
        with self._lock:
            tasks = list(self._tasks.values())
        return [t.arn for t in tasks if t.process.poll() is None and group in (None, t.group)]

    def _describe(self, task: LocalTask) -> dict[str, Any]:
        code = task.process.poll()
        status = "RUNNING" if code is None else "STOPPED"
        container: dict[str, Any] = {"Name": "locust", "LastStatus": status}
        # What Step Functions returns for a Fargate task (PascalCase, epoch milliseconds): the measured cost reads
        # the pull-to-stop time and the size. No image is pulled here: the pull starts with the process.
        started = _epoch_ms(task.started)
        description: dict[str, Any] = {
            "TaskArn": task.arn,
            "ClusterArn": task.cluster,
            "LastStatus": status,
            "LaunchType": "FARGATE",
            "Cpu": LOCAL_TASK_CPU,
            "Memory": LOCAL_TASK_MEMORY,
            "CreatedAt": started,
            "PullStartedAt": started,
            "PullStoppedAt": started,
            "StartedAt": started,
            "StartedBy": "AWS Step Functions",
            "Containers": [container],
        }
        if code is not None:
            task.stopped = task.stopped or time.time()
            description["StoppedAt"] = _epoch_ms(task.stopped)
            container["ExitCode"] = code if code >= 0 else 128 - code  # killed by a signal: 128 + its number, as ECS
            description["StopCode"] = "EssentialContainerExited"
            description["StoppedReason"] = task.stopped_reason or "Essential container in task exited"
        return description

    def _relay_progress(self, task: LocalTask) -> None:
        """Forward the generator's JSON progress lines (one per probe) to the progress sink."""
        assert task.process.stdout is not None
        for raw in task.process.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict):
                self._progress(task.endpoint_name, str(event.get("event", "load_test")), json.dumps(event))


def _epoch_ms(seconds: float) -> int:
    return round(seconds * 1000)


def _terminate(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM to the task's process group, SIGKILL after ``timeout``; the group outlives its first process when
    that one was killed (its load-generator workers are in the group too)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        process.poll()
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(process):
        time.sleep(0.05)
    if _group_alive(process):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the first process, or its zombie keeps the group "alive"
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True
