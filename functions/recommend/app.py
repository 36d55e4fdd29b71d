"""Recommend state: price the candidates, choose, write result.json/results.csv (rightsizing.steps.recommend)."""

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
    summary = STEPS["recommend"].handle(event, aws_backend())
    metrics.add_metric(name="RecommendationMade", unit=MetricUnit.Count, value=1 if summary["recommended"] else 0)
    logger.info("run summarised", extra={"run_id": summary["run_id"], "summary": summary["message"]})
    return summary
