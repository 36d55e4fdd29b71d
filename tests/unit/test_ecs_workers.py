"""Worker tasks on Fargate (``rightsizing_loadtest.ecs_workers``): the exact ECS calls, checked against the ECS API
model by botocore's Stubber, the stack settings read from the environment, and the task metadata endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from rightsizing.models.plan import LoadTestJob
from rightsizing.models.request import LoadSettings
from rightsizing.models.targets import LatencySla
from rightsizing_loadtest.ecs_workers import (
    CONFIG_ENV,
    METADATA_ENV,
    STOP_REASON,
    EcsTaskLauncher,
    EcsWorkerConfig,
    WorkerTasksUnavailable,
    read_own_address,
)
from rightsizing_loadtest.launchers import GeneratorError

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/rightsizing-LoadTestCluster-abc"
WORKER_TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/rightsizing-LoadTestWorkerTaskDefinition-x:3"
ENVIRON = {
    CONFIG_ENV["cluster"]: CLUSTER,
    CONFIG_ENV["task_definition"]: WORKER_TD,
    CONFIG_ENV["container"]: "locust",
    CONFIG_ENV["subnets"]: "subnet-aaa, subnet-bbb",
    CONFIG_ENV["security_groups"]: "sg-123",
    CONFIG_ENV["assign_public_ip"]: "DISABLED",
}


def _job() -> LoadTestJob:
    return LoadTestJob(
        run_id="rs-20261123-demo-1a2b",
        candidate_id="ml-c6i-xlarge-0",
        instance_type="ml.c6i.xlarge",
        endpoint_name="rightsize-demo-ml-c6i-xlarge-0",
        region="us-east-1",
        content_type="text/csv",
        payloads_uri="s3://bucket/runs/rs/payloads.json",
        sla=LatencySla(percentile="p95", milliseconds=100.0),
        max_error_rate=0.01,
        load=LoadSettings(workers=2, max_workers=3, worker_placement="tasks"),
        max_seconds=600,
        results_uri="s3://bucket/runs/rs/ml-c6i-xlarge-0/",
    )


def _worker_arn(n: int) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task/rightsizing-LoadTestCluster-abc/worker{n:04d}"


def _expected_run_task(index: int) -> dict:
    job = _job()
    return {
        "cluster": CLUSTER,
        "taskDefinition": WORKER_TD,
        "launchType": "FARGATE",
        "count": 1,
        "group": f"rightsizing:{job.run_id}",
        "startedBy": f"rightsizing/{job.run_id}",
        "propagateTags": "TASK_DEFINITION",
        "tags": [
            {"key": "rightsizing:run-id", "value": job.run_id},
            {"key": "rightsizing:candidate-id", "value": job.candidate_id},
        ],
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-aaa", "subnet-bbb"],
                "securityGroups": ["sg-123"],
                "assignPublicIp": "DISABLED",
            }
        },
        "overrides": {
            "containerOverrides": [
                {
                    "name": "locust",
                    "environment": [
                        {"name": "JOB_URI", "value": "s3://bucket/runs/rs/jobs/ml-c6i-xlarge-0.json"},
                        {"name": "RIGHTSIZING_MASTER_HOST", "value": "10.0.1.15"},
                        {"name": "RIGHTSIZING_MASTER_PORT", "value": "5557"},
                        {"name": "RIGHTSIZING_WORKER_INDEX", "value": str(index)},
                    ],
                }
            ]
        },
    }


@pytest.fixture
def ecs(stubbed: Callable[..., tuple[Any, Stubber]]) -> tuple[Any, Stubber]:
    return stubbed("ecs")


def _launcher(client: Any) -> EcsTaskLauncher:
    return EcsTaskLauncher(
        client,
        EcsWorkerConfig.from_environ(ENVIRON),
        "10.0.1.15",
        _job(),
        "s3://bucket/runs/rs/jobs/ml-c6i-xlarge-0.json",
    )


def test_each_worker_is_a_tagged_fargate_task_told_where_the_master_listens(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    for index in range(2):
        stubber.add_response(
            "run_task", {"tasks": [{"taskArn": _worker_arn(index)}], "failures": []}, _expected_run_task(index)
        )
    launcher = _launcher(client)

    launcher.start(5557, 2)

    assert launcher.task_arns == [_worker_arn(0), _worker_arn(1)]
    assert (launcher.bind_host, launcher.bind_port) == ("10.0.1.15", 5557)


def test_a_worker_task_that_stops_before_connecting_is_reported_with_its_reason(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_response("run_task", {"tasks": [{"taskArn": _worker_arn(0)}], "failures": []}, _expected_run_task(0))
    stubber.add_response(
        "describe_tasks",
        {"tasks": [{"taskArn": _worker_arn(0), "lastStatus": "PROVISIONING"}], "failures": []},
        {"cluster": CLUSTER, "tasks": [_worker_arn(0)]},
    )
    stopped = {
        "taskArn": _worker_arn(0),
        "lastStatus": "STOPPED",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "locust", "exitCode": 1, "reason": ""}],
    }
    stubber.add_response("describe_tasks", {"tasks": [stopped], "failures": []}, {"cluster": CLUSTER, "tasks": ANY})
    launcher = _launcher(client)
    launcher.start(5557, 1)

    assert launcher.failure() is None
    failure = launcher.failure()

    assert failure is not None
    assert _worker_arn(0) in failure and "Essential container in task exited" in failure and "exit 1" in failure
    launcher.stop()  # already stopped: no StopTask call (the Stubber would refuse an unexpected one)


def test_stop_stops_every_started_task_and_goes_on_past_an_error(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    for index in range(3):
        stubber.add_response(
            "run_task", {"tasks": [{"taskArn": _worker_arn(index)}], "failures": []}, _expected_run_task(index)
        )
    stop_0 = {"cluster": CLUSTER, "task": _worker_arn(0), "reason": STOP_REASON}
    stubber.add_response("stop_task", {"task": {"taskArn": _worker_arn(0)}}, stop_0)
    stubber.add_client_error("stop_task", "ServerException", "try again", 500)
    stop_2 = {"cluster": CLUSTER, "task": _worker_arn(2), "reason": STOP_REASON}
    stubber.add_response("stop_task", {"task": {"taskArn": _worker_arn(2)}}, stop_2)
    launcher = _launcher(client)
    launcher.start(5557, 3)

    launcher.stop()  # the Stubber checks all three calls were made, in order


def test_runtask_that_places_nothing_is_a_generator_error_naming_the_reason(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_response(
        "run_task",
        {"tasks": [], "failures": [{"reason": "Capacity is unavailable at this time", "detail": "us-east-1a"}]},
        _expected_run_task(0),
    )

    with pytest.raises(GeneratorError, match="Capacity is unavailable at this time us-east-1a"):
        _launcher(client).start(5557, 1)


def test_runtask_refused_by_the_api_is_a_generator_error(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_client_error("run_task", "AccessDeniedException", "not authorized to perform: ecs:RunTask", 400)

    with pytest.raises(GeneratorError, match="ecs:RunTask"):
        _launcher(client).start(5557, 1)


def test_missing_stack_settings_are_refused_by_name() -> None:
    environ = {k: v for k, v in ENVIRON.items() if k != CONFIG_ENV["task_definition"]}

    with pytest.raises(WorkerTasksUnavailable, match="RIGHTSIZING_WORKER_TASK_DEFINITION is not set"):
        EcsWorkerConfig.from_environ(environ)


def test_a_bad_public_ip_setting_is_refused_by_name() -> None:
    with pytest.raises(WorkerTasksUnavailable, match="RIGHTSIZING_WORKER_ASSIGN_PUBLIC_IP"):
        EcsWorkerConfig.from_environ({**ENVIRON, CONFIG_ENV["assign_public_ip"]: "YES"})


class _Metadata(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        bodies = {
            "/v4/abc": {"Name": "locust", "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.1.15"]}]},
        }
        body = json.dumps(bodies.get(self.path, {})).encode()
        self.send_response(200 if self.path in bodies else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def metadata_uri() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v4/abc"
    server.shutdown()
    server.server_close()


def test_the_master_reads_its_address_from_the_metadata_endpoint(metadata_uri: str) -> None:
    assert read_own_address({METADATA_ENV: metadata_uri}) == "10.0.1.15"


def test_outside_fargate_worker_tasks_are_refused_clearly(metadata_uri: str) -> None:
    with pytest.raises(WorkerTasksUnavailable, match=f"{METADATA_ENV} is not set"):
        read_own_address({})
    with pytest.raises(WorkerTasksUnavailable, match="cannot read this task's address"):
        read_own_address({METADATA_ENV: metadata_uri.replace("/v4/abc", "/v4/missing")})


def test_a_failed_describe_is_not_a_worker_failure(ecs: tuple[Any, Stubber]) -> None:
    client, stubber = ecs
    stubber.add_response("run_task", {"tasks": [{"taskArn": _worker_arn(0)}], "failures": []}, _expected_run_task(0))
    stubber.add_client_error("describe_tasks", "ThrottlingException", "Rate exceeded", 400)
    launcher = _launcher(client)
    launcher.start(5557, 1)

    assert launcher.failure() is None  # the connect timeout still bounds the wait
