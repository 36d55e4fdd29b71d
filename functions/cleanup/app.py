"""SweepRun state (cleanup state machine): delete a stopped run's leftovers by run-id tag (rightsizing.steps.sweep)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from rightsizing.adapters.sweep import RunSweeper
from rightsizing.steps.sweep import SweepInput, sweep_run

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    output = sweep_run(SweepInput.model_validate(event), RunSweeper(cluster=os.environ.get("LOAD_TEST_CLUSTER_ARN")))
    metrics.add_metric(name="ResourcesSwept", unit=MetricUnit.Count, value=len(output.deleted))
    logger.info("swept run", extra={"run_id": output.run_id, "deleted": output.deleted, "remaining": output.remaining})
    return output.model_dump(mode="json")
