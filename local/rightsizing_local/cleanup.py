"""The cleanup state machine (``statemachine/cleanup.asl.json``) executed locally against the run's fakes.

On AWS it runs when RunStoppedRule sees the rightsizing execution fail, time out or be aborted (the whole run), and
when a candidate's endpoint never became deletable (``StartSweep``, that candidate). Its Sweep step is the AWS
sweeper itself (``rightsizing.adapters.sweep.RunSweeper``) over the local SageMaker and ECS, which list, tag and
delete as those APIs do; so a local run proves the same safety net before its own shutdown stops every process.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rightsizing.adapters.sweep import RunSweeper
from rightsizing_local.asl_runner import CLEANUP_DEFINITION_PATH, ExecutionOutcome, execute, render_definition
from rightsizing_local.backend import local_backend
from rightsizing_local.fake_ecs import LocalEcs
from rightsizing_local.fake_sagemaker import LocalSageMaker
from rightsizing_local.lambdas import LocalLambda, function_arn

CLEANUP_MACHINE = "rightsizing-local-cleanup"
# A local endpoint leaves Creating within seconds, a SageMaker one within an hour: sweep 100 times as often.
LOCAL_SWEEP_WAIT_SCALE = 0.01
LOCAL_SWEEP_TIMEOUT_SECONDS = 300


def sweep_run_locally(
    sweep_input: dict[str, Any],
    sagemaker: LocalSageMaker,
    ecs: LocalEcs,
    cluster: str,
    retry_time_scale: float = 1.0,
) -> ExecutionOutcome:
    """Execute the cleanup state machine with ``sweep_input`` ({run_id, candidate_id?}) until it ends."""
    backend = replace(local_backend(sagemaker), sweeper=RunSweeper(client=sagemaker, cluster=cluster, ecs=ecs))
    definition = render_definition({"SweepFunctionArn": function_arn("sweep")}, CLEANUP_DEFINITION_PATH)
    name = f"sweep-{sweep_input['run_id']}-{sweep_input.get('candidate_id') or 'run'}"[:80]
    return execute(
        definition,
        sweep_input,
        name=name,
        clients={"lambda": LocalLambda(backend)},
        timeout_seconds=LOCAL_SWEEP_TIMEOUT_SECONDS,
        retry_time_scale=retry_time_scale,
        wait_time_scale=LOCAL_SWEEP_WAIT_SCALE,
        machine_name=CLEANUP_MACHINE,
    )
