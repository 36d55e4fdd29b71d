"""One local rightsizing run: the fakes wired together, the real state machine executed, everything cleaned up."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.request import RightsizingRequest
from rightsizing.models.result import RunResult
from rightsizing.run_events import ExecutionStatusChange, entry_payload, failed_entry
from rightsizing.store import LocalStore, get_json, local_uri
from rightsizing_local.asl_runner import ExecutionOutcome, execute, render_definition
from rightsizing_local.backend import local_backend
from rightsizing_local.cleanup import LOCAL_SWEEPS, SweepSchedule, incomplete_cleanups, sweep_run_locally
from rightsizing_local.events import LocalEventBus, ProgressSink, no_progress
from rightsizing_local.fake_ecs import LocalEcs
from rightsizing_local.fake_sagemaker import LocalSageMaker
from rightsizing_local.fake_sfn import LocalStepFunctions
from rightsizing_local.history import JsonLinesHistory
from rightsizing_local.lambdas import LocalLambda, function_arn

ClientWrapper = Callable[[dict[str, Any]], dict[str, Any]]
LOCAL_EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:rightsizing-local:{}"


def local_substitutions(artifacts_uri: str) -> dict[str, str]:
    """The local values of the template's DefinitionSubstitutions (template.yaml supplies the AWS ones)."""
    return {
        "PlanFunctionArn": function_arn("plan"),
        "CollectMetricsFunctionArn": function_arn("collect-metrics"),
        "RecommendFunctionArn": function_arn("recommend"),
        "ArtifactsUri": artifacts_uri,
        "SageMakerExecutionRoleArn": "arn:aws:iam::123456789012:role/rightsizing-local-sagemaker",
        "LoadTestClusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/rightsizing-local",
        "LoadTestTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/rightsizing-locust:1",
        "LoadTestContainerName": "locust",
        "LoadTestSubnetIds": "subnet-local",
        "LoadTestSecurityGroupId": "sg-local",
        "LoadTestAssignPublicIp": "DISABLED",
        "LoadTestLogGroupName": "rightsizing-runs/runs/<run id>/local/loadtests",
        "CleanupStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:rightsizing-local-cleanup",
    }


def announce_failure(bus: Any, request: RightsizingRequest, run_id: str, execution: ExecutionOutcome) -> None:
    """What the stack's RunFailedRule does on AWS: put "Rightsizing Failed" for a run that did not finish."""
    change = ExecutionStatusChange(
        executionArn=LOCAL_EXECUTION_ARN.format(run_id),
        name=run_id,
        status=execution.status,  # one of the three: the caller checked
        input=json.dumps(request.model_dump(mode="json")),
        error=execution.error,
        cause=execution.cause,
    )
    bus.put_events(Entries=[entry_payload(failed_entry(change, "default"))])


def new_run_id(name: str) -> str:
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


@dataclass
class LocalRun:
    run_id: str
    run_dir: Path
    execution: ExecutionOutcome
    result: RunResult | None
    events: list[dict[str, Any]] = field(default_factory=list)
    sagemaker_calls: list[tuple[str, str]] = field(default_factory=list)
    leftovers: dict[str, list[str]] = field(default_factory=dict)
    process_groups: list[int] = field(default_factory=list)
    sweeps: list[ExecutionOutcome] = field(default_factory=list)  # the cleanup state machine's executions
    tasks_left: list[str] = field(default_factory=list)  # load-test tasks still running when both machines ended

    @property
    def cleanup_incomplete(self) -> list[str]:
        """One line per cleanup execution that gave up: what it left and why (delete those by hand on AWS)."""
        return incomplete_cleanups(self.sweeps)


def run_local(
    request: RightsizingRequest,
    output_root: Path,
    progress: ProgressSink = no_progress,
    wrap_clients: ClientWrapper | None = None,
    run_id: str | None = None,
    retry_time_scale: float = 1.0,
    execution_timeout_seconds: int | None = None,
    sweep_schedule: SweepSchedule = LOCAL_SWEEPS,
) -> LocalRun:
    """Run the state machine locally. Servers and load generators are stopped on every path, Ctrl-C included.

    ``execution_timeout_seconds``: the execution's TimeoutSeconds (default: the run's own bound, below); past it the
    run ends TIMED_OUT and is swept, as on AWS after the definition's 6 hours."""
    if not request.is_local:
        raise InvalidRequest(
            "candidates",
            "local runs need local.* profiles; ml.* instance types run on AWS "
            "(deploy the SAM stack and start an execution there)",
        )
    run_id = run_id or new_run_id(request.name)
    output_root = output_root.resolve()
    run_dir = output_root / "runs" / run_id
    workdir = run_dir / "local"
    sagemaker = LocalSageMaker(workdir, progress)
    ecs = LocalEcs(sagemaker, workdir, progress)
    bus = LocalEventBus()
    clients: dict[str, Any] = {
        "sagemaker": sagemaker,
        "ecs": ecs,
        "lambda": LocalLambda(local_backend(sagemaker, JsonLinesHistory.in_folder(output_root))),
        "events": bus,
        "stepfunctions": LocalStepFunctions(),
    }
    if wrap_clients:
        clients = wrap_clients(clients)
    # Bound the whole run: every candidate's test bound plus generous start-up, run one after another at worst,
    # plus its endpoint wait and as long again for a refused delete (the state machine's own bounds).
    limits = request.limits
    per_candidate = limits.max_seconds_per_candidate + 120 + 2 * limits.max_endpoint_wait_seconds
    bound = sum(len(c.variants()) for c in request.candidates) * per_candidate + 300
    timeout = execution_timeout_seconds or bound
    substitutions = local_substitutions(local_uri(output_root))
    try:
        execution = execute(
            with_execution_timeout(render_definition(substitutions), timeout),
            request.model_dump(mode="json"),
            name=run_id,
            clients=clients,
            timeout_seconds=timeout + 120,  # a backstop only: the execution times out by itself first
            retry_time_scale=retry_time_scale,
        )
        sweeps = [
            sweep_run_locally(
                sweep_input,
                clients["sagemaker"],
                clients["ecs"],
                substitutions["LoadTestClusterArn"],
                retry_time_scale,
                sweep_schedule,
            )
            for sweep_input in sweeps_due(run_id, execution, clients["stepfunctions"])
        ]
        leftovers = sagemaker.live_resources()  # what the state machines themselves failed to delete
        tasks_left = ecs.running()
    finally:
        ecs.stop_all()
        sagemaker.shutdown()
    if execution.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        announce_failure(clients["events"], request, run_id, execution)
    result = None
    if execution.status == "SUCCEEDED" and execution.output:
        result = RunResult.model_validate(get_json(execution.output["result_uri"], LocalStore()))
    return LocalRun(
        run_id=run_id,
        run_dir=run_dir,
        execution=execution,
        result=result,
        events=bus.entries,
        sagemaker_calls=sagemaker.calls,
        leftovers=leftovers,
        process_groups=sagemaker.process_groups + ecs.process_groups,
        sweeps=sweeps,
        tasks_left=tasks_left,
    )


def with_execution_timeout(definition: str, seconds: int) -> str:
    """The definition with a shorter TimeoutSeconds (never longer than its own): a local run that goes on past its
    bound ends TIMED_OUT, and is swept, as an AWS one does past the definition's bound."""
    document = json.loads(definition)
    document["TimeoutSeconds"] = min(int(seconds), int(document["TimeoutSeconds"]))
    return json.dumps(document)


def sweeps_due(run_id: str, execution: ExecutionOutcome, stepfunctions: Any) -> list[dict[str, Any]]:
    """The cleanup executions AWS would start: one per candidate the run handed over (StartSweep), and one for the
    whole run when it failed, timed out or was aborted (RunStoppedRule: ``{"run_id": <execution name>}``)."""
    due = [started["Input"] for started in stepfunctions.started]
    if execution.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        due.append({"run_id": run_id})
    return due
