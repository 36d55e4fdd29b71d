"""The cleanup state machine (``statemachine/cleanup.asl.json``) executed locally against the run's fakes.

On AWS it runs when RunStoppedRule sees the rightsizing execution fail, time out or be aborted (the whole run), and
when a candidate's endpoint never became deletable (``StartSweep``, that candidate). Its Sweep step is the AWS
sweeper itself (``rightsizing.adapters.sweep.RunSweeper``) over the local SageMaker and ECS, which list, tag and
delete as those APIs do; so a local run proves the same safety net before its own shutdown stops every process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rightsizing.adapters.sweep import RunSweeper
from rightsizing_local.asl_runner import CLEANUP_DEFINITION_PATH, ExecutionOutcome, execute, render_definition
from rightsizing_local.backend import local_backend
from rightsizing_local.fake_ecs import LocalEcs
from rightsizing_local.fake_sagemaker import LocalSageMaker
from rightsizing_local.lambdas import LocalLambda, function_arn

CLEANUP_MACHINE = "rightsizing-local-cleanup"


@dataclass(frozen=True)
class SweepSchedule:
    """The cleanup machine's ``${MaxSweeps}`` and ``${SweepIntervalSeconds}`` (template.yaml: 36 sweeps 300 s apart
    on AWS). A local endpoint leaves Creating within seconds, a SageMaker one within an hour: locally the sweeps
    come 100 times as often, and tests shorten them further to reach the give-up path in seconds."""

    max_sweeps: int = 36
    interval_seconds: int = 3

    def substitutions(self) -> dict[str, str]:
        return {"MaxSweeps": str(self.max_sweeps), "SweepIntervalSeconds": str(self.interval_seconds)}

    def bound_seconds(self) -> float:
        """How long an execution can take: every sweep, each with its Retry back-offs, and the waits between."""
        return self.max_sweeps * (self.interval_seconds + 60) + 120


LOCAL_SWEEPS = SweepSchedule()


def sweep_run_locally(
    sweep_input: dict[str, Any],
    sagemaker: LocalSageMaker,
    ecs: LocalEcs,
    cluster: str,
    retry_time_scale: float = 1.0,
    schedule: SweepSchedule = LOCAL_SWEEPS,
) -> ExecutionOutcome:
    """Execute the cleanup state machine with ``sweep_input`` ({run_id, candidate_id?}) until it ends."""
    backend = replace(local_backend(sagemaker), sweeper=RunSweeper(client=sagemaker, cluster=cluster, ecs=ecs))
    substitutions = {"SweepFunctionArn": function_arn("sweep"), **schedule.substitutions()}
    definition = render_definition(substitutions, CLEANUP_DEFINITION_PATH)
    name = f"sweep-{sweep_input['run_id']}-{sweep_input.get('candidate_id') or 'run'}"[:80]
    return execute(
        definition,
        sweep_input,
        name=name,
        clients={"lambda": LocalLambda(backend)},
        timeout_seconds=schedule.bound_seconds(),
        retry_time_scale=retry_time_scale,
        machine_name=CLEANUP_MACHINE,
    )


def incomplete_cleanups(sweeps: list[ExecutionOutcome]) -> list[str]:
    """Why each cleanup execution that did not succeed left something behind (its Fail cause names what is left)."""
    return [
        f"{sweep.error or sweep.status}: {sweep.cause or 'no cause given'}"
        for sweep in sweeps
        if sweep.status != "SUCCEEDED"
    ]
