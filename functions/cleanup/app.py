"""SweepRun state (cleanup state machine): delete a stopped run's leftovers by run-id tag (rightsizing.steps.sweep)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from rightsizing.adapters.aws_backend import aws_backend
from rightsizing.steps import STEPS

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    output = STEPS["sweep"].handle(event, aws_backend())
    metrics.add_metric(name="ResourcesSwept", unit=MetricUnit.Count, value=len(output["deleted"]))
    logger.info(
        "swept run", extra={"run_id": output["run_id"], "deleted": output["deleted"], "remaining": output["remaining"]}
    )
    return output
