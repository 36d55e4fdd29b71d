"""ECS adapter: distributed-mode workers as Fargate tasks of their own (``load.worker_placement: tasks``).

The master is the load-test task the state machine started. It listens on its own private address (port
``MASTER_PORT``; the template opens it within the load-test security group) and starts each worker with RunTask
on the worker task definition (1 vCPU: one Locust worker per vCPU), in the same cluster, subnets and security group,
in the run's task group and tagged with the run and candidate ids. A worker task gets the job URI and the master's
address as environment overrides; its entry point is ``python -m rightsizing_loadtest.worker``.

Every worker task ends on every path: the master tells it to quit and then stops it (StopTask); a worker that
loses its master quits after Locust's 60 s heartbeat timeout, and exits by the job's ``max_seconds`` anyway.

The stack's values reach the master through its task definition's environment (``EcsWorkerConfig.from_environ``);
its own address comes from the ECS task metadata endpoint (v4) that Fargate injects.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rightsizing.adapters.ecs import EcsTasks
from rightsizing.exceptions import RightsizingError
from rightsizing.models.plan import CANDIDATE_TAG, RUN_ID_TAG, LoadTestJob, worker_started_by
from rightsizing_loadtest import protocol
from rightsizing_loadtest.launchers import GeneratorError

MASTER_PORT = 5557  # Locust's default master port; template.yaml opens it between load-test tasks
METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"
METADATA_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 240.0  # Fargate: 20-90 s to pull and start; a busy zone takes longer
STOP_REASON = "rightsizing: load test over, the master stops its workers"

# The template sets these on the master's container (one place: template.yaml, LoadTestTaskDefinition).
CONFIG_ENV = {
    "cluster": "RIGHTSIZING_WORKER_CLUSTER",
    "task_definition": "RIGHTSIZING_WORKER_TASK_DEFINITION",
    "container": "RIGHTSIZING_WORKER_CONTAINER",
    "subnets": "RIGHTSIZING_WORKER_SUBNETS",
    "security_groups": "RIGHTSIZING_WORKER_SECURITY_GROUPS",
    "assign_public_ip": "RIGHTSIZING_WORKER_ASSIGN_PUBLIC_IP",
}


class WorkerTasksUnavailable(ValueError):
    """The master cannot start worker tasks here (not on Fargate, or the stack's settings are missing)."""


class EcsWorkerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    cluster: str = Field(min_length=1)
    task_definition: str = Field(min_length=1)
    container: str = Field(min_length=1)
    subnets: list[str] = Field(min_length=1, max_length=16)  # awsvpcConfiguration: at most 16 subnets
    security_groups: list[str] = Field(min_length=1, max_length=5)  # and at most 5 security groups
    assign_public_ip: Literal["ENABLED", "DISABLED"] = "DISABLED"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EcsWorkerConfig:
        optional = CONFIG_ENV["assign_public_ip"]
        missing = [name for name in CONFIG_ENV.values() if name != optional and not environ.get(name, "").strip()]
        if missing:
            raise WorkerTasksUnavailable(
                f"load.worker_placement 'tasks' starts workers as Fargate tasks, but {', '.join(missing)} "
                "is not set: the stack's load-test task definition sets these (template.yaml)"
            )
        raw: dict[str, Any] = {field: environ.get(name, "").strip() for field, name in CONFIG_ENV.items()}
        for field in ("subnets", "security_groups"):
            raw[field] = [item.strip() for item in raw[field].split(",") if item.strip()]
        if not raw["assign_public_ip"]:
            del raw["assign_public_ip"]
        try:
            return cls(**raw)
        except ValidationError as e:
            fields = "; ".join(f"{CONFIG_ENV[str(err['loc'][0])]}: {err['msg']}" for err in e.errors())
            raise WorkerTasksUnavailable(f"worker task settings are invalid: {fields}") from None


def read_own_address(environ: Mapping[str, str]) -> str:
    """This container's private IPv4 address (task metadata endpoint v4), which the workers connect to."""
    base = environ.get(METADATA_ENV, "").strip()
    if not base:
        raise WorkerTasksUnavailable(
            f"load.worker_placement 'tasks' needs the ECS task metadata endpoint ({METADATA_ENV} is not set): "
            "worker tasks can only be started from a load-test task on Fargate"
        )
    try:
        container = _get_json(base)
        return str(next(ip for net in container.get("Networks", []) for ip in net.get("IPv4Addresses", []) if ip))
    except (OSError, ValueError, StopIteration) as e:
        raise WorkerTasksUnavailable(f"cannot read this task's address from {METADATA_ENV}: {e!r}") from e


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=METADATA_TIMEOUT_SECONDS) as response:  # link-local URL ECS injects
        document = json.loads(response.read())
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    return document


class EcsTaskLauncher:
    """``WorkerLauncher`` on ECS: one Fargate task per worker."""

    bind_port = MASTER_PORT
    connect_timeout = CONNECT_TIMEOUT_SECONDS

    def __init__(self, ecs: Any, config: EcsWorkerConfig, master_address: str, job: LoadTestJob, job_uri: str) -> None:
        """``ecs``: an ``ecs`` client (None: the default one, in the cluster's region)."""
        region = config.cluster.split(":")[3] if config.cluster.startswith("arn:") else None  # the stack's region
        self._tasks = EcsTasks(config.cluster, ecs, region)
        self._config = config
        self._job = job
        self._job_uri = job_uri
        self.bind_host = master_address  # the workers connect to where the master listens
        self.task_arns: list[str] = []
        self._stopped: set[str] = set()

    def start(self, master_port: int, count: int) -> None:
        for _ in range(count):
            self._run_one(master_port, len(self.task_arns))

    def _run_one(self, master_port: int, index: int) -> None:
        environment = {
            "JOB_URI": self._job_uri,
            protocol.MASTER_HOST_ENV: self.bind_host,
            protocol.MASTER_PORT_ENV: str(master_port),
            protocol.WORKER_INDEX_ENV: str(index),
        }
        try:
            response = self._tasks.run(
                taskDefinition=self._config.task_definition,
                launchType="FARGATE",
                count=1,
                group=f"rightsizing:{self._job.run_id}",
                startedBy=worker_started_by(self._job.run_id),  # the sweeper's handle on them
                propagateTags="TASK_DEFINITION",
                tags=[
                    {"key": RUN_ID_TAG, "value": self._job.run_id},
                    {"key": CANDIDATE_TAG, "value": self._job.candidate_id},
                ],
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": self._config.subnets,
                        "securityGroups": self._config.security_groups,
                        "assignPublicIp": self._config.assign_public_ip,
                    }
                },
                overrides={
                    "containerOverrides": [
                        {
                            "name": self._config.container,
                            "environment": [{"name": k, "value": v} for k, v in environment.items()],
                        }
                    ]
                },
            )
        except RightsizingError as e:
            raise GeneratorError(f"RunTask for load-generator worker {index} failed: {e}") from e
        self.task_arns.extend(task["taskArn"] for task in response.get("tasks", []))
        failures = response.get("failures") or []
        if failures or not response.get("tasks"):
            reasons = "; ".join(f"{f.get('reason')} {f.get('detail') or ''}".strip() for f in failures)
            raise GeneratorError(f"RunTask placed no load-generator worker {index}: {reasons or 'no task returned'}")

    def failure(self) -> str | None:
        try:
            described = self._tasks.describe(self.task_arns)
        except RightsizingError as e:  # a passing API error must not end the test: look again later
            print(f"rightsizing-loadtest: DescribeTasks failed, will retry: {e}", file=sys.stderr, flush=True)
            return None
        for task in described:
            if task.get("lastStatus") == "STOPPED":
                self._stopped.add(task["taskArn"])
                return f"load-generator worker task {task['taskArn']} stopped before connecting: {_why(task)}"
        return None

    def stop(self, at_once: bool = False) -> None:
        del at_once  # StopTask is immediate either way (SIGTERM, then SIGKILL after the task's stop timeout)
        running = [arn for arn in self.task_arns if arn not in self._stopped]
        failed = self._tasks.stop(running, STOP_REASON)
        self._stopped.update(arn for arn in running if arn not in failed)
        for arn, e in failed.items():  # the others are stopped anyway; this one ends on its own
            print(f"rightsizing-loadtest: could not stop worker task {arn}: {e}", file=sys.stderr, flush=True)


def _why(task: dict[str, Any]) -> str:
    parts = [task.get("stoppedReason") or task.get("stopCode") or "no reason given"]
    for container in task.get("containers", []):
        if container.get("exitCode") is not None or container.get("reason"):
            exit_code, reason = container.get("exitCode"), container.get("reason") or ""
            parts.append(f"container {container.get('name')}: exit {exit_code} {reason}")
    return "; ".join(p.strip() for p in parts)


def ecs_launcher(job: LoadTestJob, job_uri: str, environ: Mapping[str, str]) -> EcsTaskLauncher:
    """The launcher for this Fargate task, or ``WorkerTasksUnavailable`` before anything is started."""
    config = EcsWorkerConfig.from_environ(environ)
    return EcsTaskLauncher(None, config, read_own_address(environ), job, job_uri)


__all__ = ["EcsTaskLauncher", "EcsWorkerConfig", "WorkerTasksUnavailable", "ecs_launcher", "read_own_address"]
