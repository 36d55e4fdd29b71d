"""A stand-in for ECS on Fargate, for the worker-task tests: ``python mini_fargate.py OUT.json [broken]``.

The distributed master runs here with ``EcsTaskLauncher``, whose ECS client is ``MiniFargate``: each RunTask is
checked against the ECS API model (botocore's validator) and starts the worker container's entry point as a process
with the task's environment overrides, plus ENDPOINT_URL to the local server (on AWS the worker signs to SageMaker).
StopTask terminates the process (Fargate sends SIGTERM); a process that exits on its own marks its task STOPPED
like Fargate's "Essential container in task exited". With ``broken``, workers start without JOB_URI and exit.

moto 5.2.5 cannot run awsvpc tasks (its ENI lacks private_dns_name), hence this small fake.
Environment: JOB_URI, ENDPOINT_URL (the ground-truth server). Prints nothing; writes its findings to OUT.json.
"""

from __future__ import annotations

# Locust first: it monkey-patches the process with gevent.
from rightsizing_loadtest.distributed import DistributedProbe  # isort: skip

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import botocore.session
import gevent
from botocore.validate import ParamValidator

from rightsizing_loadtest.ecs_workers import CONFIG_ENV, EcsTaskLauncher, EcsWorkerConfig
from rightsizing_loadtest.endpoint import resolve_target
from rightsizing_loadtest.generator import generator_for
from rightsizing_loadtest.job_io import load_job, load_payloads
from rightsizing_loadtest.launchers import GeneratorError

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/loadtest"
WORKER_TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:1"
WORKER_ENTRY = [sys.executable, "-m", "rightsizing_loadtest.worker"]  # template.yaml: the worker's EntryPoint
MODEL = botocore.session.get_session().get_service_model("ecs")


def _validated(operation: str, params: dict[str, Any]) -> None:
    report = ParamValidator().validate(params, MODEL.operation_model(operation).input_shape)
    if report.has_errors():
        raise AssertionError(f"{operation}: {report.generate_report()}")


class MiniFargate:
    def __init__(self, endpoint_url: str, broken: bool) -> None:
        self.endpoint_url, self.broken = endpoint_url, broken
        self.tasks: dict[str, dict[str, Any]] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.calls: list[str] = []
        gevent.spawn(self._watch)

    def run_task(self, **params: Any) -> dict[str, Any]:
        _validated("RunTask", params)
        self.calls.append("RunTask")
        overrides = params["overrides"]["containerOverrides"][0]["environment"]
        env = {k: v for k, v in os.environ.items() if k != "JOB_URI"}
        env.update({item["name"]: item["value"] for item in overrides})
        env.update(TMPDIR="/tmp", ENDPOINT_URL=self.endpoint_url)
        if self.broken:
            env.pop("JOB_URI", None)
        arn = f"{CLUSTER.replace(':cluster/', ':task/')}/{uuid.uuid4().hex}"
        self.tasks[arn] = {
            "taskArn": arn,
            "lastStatus": "PROVISIONING",
            "desiredStatus": "RUNNING",
            "group": params["group"],
            "startedBy": params["startedBy"],
            "tags": params["tags"],
            "containers": [{"name": "locust"}],
        }
        self.processes[arn] = subprocess.Popen(WORKER_ENTRY, env=env, stderr=subprocess.DEVNULL)
        return {"tasks": [dict(self.tasks[arn])], "failures": []}

    def describe_tasks(self, **params: Any) -> dict[str, Any]:
        _validated("DescribeTasks", params)
        self.calls.append("DescribeTasks")
        return {"tasks": [dict(self.tasks[arn]) for arn in params["tasks"]], "failures": []}

    def stop_task(self, **params: Any) -> dict[str, Any]:
        _validated("StopTask", params)
        self.calls.append("StopTask")
        task = self.tasks[params["task"]]
        task.update(desiredStatus="STOPPED", stoppedReason=params.get("reason", "Task stopped by user"))
        process = self.processes[params["task"]]
        if process.poll() is None:
            process.terminate()
        return {"task": dict(task)}

    def _watch(self) -> None:
        while True:
            for arn, process in self.processes.items():
                task = self.tasks[arn]
                if task["lastStatus"] == "PROVISIONING":
                    task["lastStatus"] = "RUNNING"
                if process.poll() is not None and task["lastStatus"] != "STOPPED":
                    task.update(lastStatus="STOPPED", desiredStatus="STOPPED")
                    task.setdefault("stoppedReason", "Essential container in task exited")
                    task["containers"] = [{"name": "locust", "exitCode": process.returncode}]
            gevent.sleep(0.1)


def main() -> None:
    out_path, broken = Path(sys.argv[1]), sys.argv[2:] == ["broken"]
    job_uri, endpoint_url = os.environ["JOB_URI"], os.environ["ENDPOINT_URL"]
    job = load_job(job_uri)
    target = resolve_target(job)  # ENDPOINT_URL: unsigned, to the local server (the master's own requests)
    user_class, _ = generator_for(job, target, load_payloads(job.payloads_uri), 5.0)
    fargate = MiniFargate(endpoint_url, broken)
    environ = {
        CONFIG_ENV["cluster"]: CLUSTER,
        CONFIG_ENV["task_definition"]: WORKER_TD,
        CONFIG_ENV["container"]: "locust",
        CONFIG_ENV["subnets"]: "subnet-0a1b2c3d",
        CONFIG_ENV["security_groups"]: "sg-0a1b2c3d",
    }
    launcher = EcsTaskLauncher(fargate, EcsWorkerConfig.from_environ(environ), "127.0.0.1", job, job_uri)
    launcher.connect_timeout = 30.0
    out: dict[str, Any] = {}
    try:
        probe = DistributedProbe(
            user_class,
            target.base_url,
            out_path.parent / "artifacts",
            workers=2,
            max_workers=2,
            settle_seconds=0.5,
            drain_seconds=1.0,
            launcher=launcher,
        )
    except GeneratorError as e:
        out["error"] = str(e)
    else:
        paced = probe.measure_rate(100.0, 2.0, 2, 5.0)
        out["paced"] = {"generators": paced.generators, "requests": paced.requests, "failures": paced.failures}
        probe.close()
    gevent.sleep(1.0)  # let terminated workers exit and the watcher see it
    out["tasks"] = list(fargate.tasks.values())
    out["exit_codes"] = [p.poll() for p in fargate.processes.values()]
    out["calls"] = fargate.calls
    out_path.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
