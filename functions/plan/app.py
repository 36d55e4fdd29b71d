"""PlanRun state: validate the request, write the jobs, name every resource (rightsizing.steps.plan)."""

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
    plan = STEPS["plan"].handle(event, aws_backend())
    metrics.add_metric(name="CandidatesPlanned", unit=MetricUnit.Count, value=len(plan["candidates"]))
    logger.info("planned run", extra={"run_id": plan["run_id"], "candidates": len(plan["candidates"])})
    return plan
