"""SageMaker Pipelines callback step: its SQS message starts a run with a stored profile
(rightsizing.steps.pipeline_run)."""

from rightsizing.lambda_entry import pipeline_queue_handler

lambda_handler = pipeline_queue_handler()
