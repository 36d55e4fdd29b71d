"""What every Lambda function in ``functions/`` is: one step on the AWS backend, wrapped in Powertools' structured
logging, X-Ray tracing and one CloudWatch metric. Each ``functions/*/app.py`` only names its step and what to log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from rightsizing.adapters.aws_backend import aws_backend
from rightsizing.adapters.aws_triggers import aws_triggers
from rightsizing.steps import STEPS, TRIGGERS
from rightsizing.steps.pipeline_run import answer_pipeline_step

Output = dict[str, Any]
Handler = Callable[[Output, LambdaContext], Output]


def without_inputs(error: Exception) -> Exception:
    """``error`` as it may leave a function: what leaves is logged (Powertools' Tracer logs the traceback, the Lambda
    runtime the message) and becomes the Step Functions cause. A chained cause is dropped (a pydantic error chained
    under InvalidRequest carries the input it refused: a request's bodies, a container's environment), and a pydantic
    error of its own is rebuilt without its ``input_value``s. Its type, and so the error name, stays."""
    if isinstance(error, ValidationError):
        details = error.errors(include_url=False)
        error = ValidationError.from_exception_data(error.title, details, hide_input=True)  # type: ignore[arg-type]
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


def step_handler(
    step: str, message: str, metric: str, measure: Callable[[Output], float], details: Callable[[Output], Output]
) -> Handler:
    """``lambda_handler`` for ``STEPS[step]``: logs ``message`` with ``details(output)``, emits ``metric``."""
    logger, tracer, metrics = Logger(), Tracer(), Metrics()

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: Output, context: LambdaContext) -> Output:
        try:
            output = STEPS[step].handle(event, aws_backend())
        except Exception as error:
            raise without_inputs(error) from None
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=measure(output))
        logger.info(message, extra=details(output))
        return output

    return lambda_handler


def trigger_handler(trigger: str) -> Handler:
    """``lambda_handler`` for ``TRIGGERS[trigger]`` (invoked asynchronously by Scheduler or EventBridge): logs what
    it started, or at WARNING why it started nothing; emits ``RunsStarted`` (1 only for a new execution)."""
    logger, tracer, metrics = Logger(), Tracer(), Metrics()

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: Output, context: LambdaContext) -> Output:
        try:
            outcome = TRIGGERS[trigger].handle(event, aws_triggers())
        except Exception as error:
            raise without_inputs(error) from None
        new = outcome["started"] and not outcome["already_started"]
        metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1 if new else 0)
        if outcome["started"]:
            logger.info("run started" if new else "run already started", extra=outcome)
        else:
            logger.warning("no run started", extra=outcome)
        return outcome

    return lambda_handler


def pipeline_queue_handler() -> Handler:
    """``lambda_handler`` for the callback steps' SQS queue (batch size 1): each message's body starts a run, or
    fails its step at once. An exception leaves the message on the queue for another try (then the DLQ)."""
    trigger = trigger_handler("pipeline-run")

    def lambda_handler(event: Output, context: LambdaContext) -> Output:
        outcomes = [trigger(json.loads(record["body"]), context) for record in event["Records"]]
        return {"outcomes": outcomes}

    return lambda_handler


def pipeline_answer_handler() -> Handler:
    """``lambda_handler`` for every run's end event: answers the pipeline step that waits for the run, if any."""
    logger, tracer = Logger(), Tracer()

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    def lambda_handler(event: Output, context: LambdaContext) -> Output:
        try:
            outcome = answer_pipeline_step(event, aws_triggers()).model_dump(mode="json")
        except Exception as error:
            raise without_inputs(error) from None
        logger.info("pipeline step answered" if outcome["answered"] else "no pipeline step waits", extra=outcome)
        return outcome

    return lambda_handler
