"""CollectMetrics state: turn the load test's result into a CandidateResult (rightsizing.steps.collect)."""

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
    result = STEPS["collect-metrics"].handle(event, aws_backend())
    metrics.add_metric(name="SustainableRps", unit=MetricUnit.Count, value=result["sustainable_rps"] or 0)
    logger.info("candidate measured", extra={"candidate_id": result["candidate_id"]})
    return result
