"""The end of a run answers the SageMaker Pipelines callback step waiting for it, if one is
(rightsizing.steps.pipeline_run)."""

from rightsizing.lambda_entry import pipeline_answer_handler

lambda_handler = pipeline_answer_handler()
