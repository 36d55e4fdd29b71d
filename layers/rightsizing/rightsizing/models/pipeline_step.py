"""A SageMaker Pipelines callback step that rightsizes a model package: the message its queue receives, what is kept
until the run ends, and what the step gets back.

The pipeline sends ``{"token", "pipelineExecutionArn", "arguments", "status"}`` to an SQS queue and waits until
someone calls SendPipelineExecutionStepSuccess (up to 50 output parameters, values of at most 1,024 characters) or
SendPipelineExecutionStepFailure (a reason of at most 256 characters) with that token.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# The step's output parameters, in this order; a later step reads them as step.properties.Outputs[<name>].
OUTPUT_NAMES = ("instance_type", "instance_count", "usd_per_hour", "run_id", "report_uri")
MAX_FAILURE_REASON = 256  # SendPipelineExecutionStepFailure.FailureReason
MAX_OUTPUT_VALUE = 1024  # OutputParameter.Value
CALLBACK_TOKEN = r"^[A-Za-z0-9]{10}$"  # CallbackToken: fixed length 10


class PipelineStepArguments(BaseModel):
    """The callback step's ``inputs``: which stored profile to use and the package to rightsize."""

    model_config = ConfigDict(extra="forbid")
    profile: str = Field(
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", description="profiles/<profile>.json"
    )
    model_package_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$")


class PipelineCallbackMessage(BaseModel):
    """The body of the SQS message a callback step sends."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    token: str = Field(pattern=CALLBACK_TOKEN)
    pipeline_execution_arn: str = Field(alias="pipelineExecutionArn", min_length=1)
    arguments: PipelineStepArguments


class PipelineCallback(BaseModel):
    """Kept beside the run's artefacts (``runs/<run id>/pipeline-callback.json``) until the run ends."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(pattern=CALLBACK_TOKEN)
    pipeline_execution_arn: str


class CallbackOutcome(BaseModel):
    """What the end of a run did for a waiting pipeline step (``answered`` False: not a pipeline's run)."""

    model_config = ConfigDict(extra="forbid")
    answered: bool
    run_id: str
    succeeded: bool | None = None
    reason: str


def pipeline_run_id(token: str) -> str:
    """``pipeline-<token>``: one run per callback step execution, so a redelivered message starts nothing new."""
    return f"pipeline-{token}"


def callback_key(run_id: str) -> str:
    return f"runs/{run_id}/pipeline-callback.json"


def failure_reason(reason: str) -> str:
    return reason if len(reason) <= MAX_FAILURE_REASON else reason[: MAX_FAILURE_REASON - 1] + "…"
