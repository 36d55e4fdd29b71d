"""A rightsizing step for a user's SageMaker pipeline (needs the ``sagemaker`` SDK: ``pip install
'sagemaker-rightsizing[pipelines]'``; the Lambda layer never imports this module).

The step is a Pipelines ``CallbackStep``: the pipeline sends its token and the step's inputs (a stored profile's name
and the model package to rightsize) to the stack's ``PipelineCallbackQueueUrl`` and waits; the stack starts a run and,
when the run ends, answers the step with the recommendation as outputs, or fails it with the reason.
"""

from __future__ import annotations

import importlib
from typing import Any

from rightsizing.models.pipeline_step import OUTPUT_NAMES, PipelineStepArguments

# Where CallbackStep lives: sagemaker 3 moved the workflow classes into sagemaker-mlops.
CALLBACK_MODULES = ("sagemaker.mlops.workflow.callback_step", "sagemaker.workflow.callback_step")
INTEGER_OUTPUTS = {"instance_count"}  # declared Integer so a later step can use it as an instance count
FLOAT_OUTPUTS = {"usd_per_hour"}


def _callback_module() -> Any:
    for name in CALLBACK_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("rightsizing_step needs the sagemaker SDK: pip install 'sagemaker-rightsizing[pipelines]'")


def rightsizing_step(
    name: str,
    queue_url: str,
    profile: Any,
    model_package_arn: Any,
    depends_on: list[Any] | None = None,
) -> Any:
    """A CallbackStep that rightsizes ``model_package_arn`` with ``profiles/<profile>.json``.

    ``profile`` and ``model_package_arn`` may be plain strings or pipeline values (parameters, another step's
    properties, e.g. a RegisterModel step's ``properties.ModelPackageArn``). Its outputs, read as
    ``step.properties.Outputs["instance_type"]`` and so on: instance_type, instance_count (integer), usd_per_hour
    (float), run_id, report_uri.
    """
    if not name or len(name) > 64:
        raise ValueError("name: a pipeline step's name has 1-64 characters")
    if not isinstance(queue_url, str) or not queue_url.startswith("https://sqs."):
        raise ValueError(f"queue_url: {queue_url!r} is not an SQS queue URL (the stack's PipelineCallbackQueueUrl)")
    if isinstance(profile, str) and isinstance(model_package_arn, str):
        PipelineStepArguments(profile=profile, model_package_arn=model_package_arn)  # names the bad field
    callback = _callback_module()
    outputs = [
        callback.CallbackOutput(output_name=output, output_type=_output_type(callback, output))
        for output in OUTPUT_NAMES
    ]
    return callback.CallbackStep(
        name=name,
        sqs_queue_url=queue_url,
        inputs={"profile": profile, "model_package_arn": model_package_arn},
        outputs=outputs,
        depends_on=depends_on,
    )


def _output_type(callback: Any, output: str) -> Any:
    kinds = callback.CallbackOutputTypeEnum
    if output in INTEGER_OUTPUTS:
        return kinds.Integer
    if output in FLOAT_OUTPUTS:
        return kinds.Float
    return kinds.String
