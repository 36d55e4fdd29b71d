"""The AWS side of the automatic starts (functions/start_*_run): environment variables set by template.yaml."""

from __future__ import annotations

import os

from rightsizing.adapters.pipeline_callbacks import SageMakerPipelineCallbacks
from rightsizing.adapters.run_starter import StepFunctionsRunStarter
from rightsizing.adapters.s3 import UriStore
from rightsizing.ports import Triggers


def aws_triggers() -> Triggers:
    statuses = os.environ.get("RIGHTSIZING_APPROVAL_STATUSES", "Approved")
    return Triggers(
        store=UriStore(),
        starter=StepFunctionsRunStarter(os.environ["RIGHTSIZING_STATE_MACHINE_ARN"]),
        artifacts_uri=os.environ["RIGHTSIZING_ARTIFACTS_URI"],
        region=os.environ["AWS_REGION"],
        approval_statuses=frozenset(s.strip() for s in statuses.split(",") if s.strip()),
        callbacks=SageMakerPipelineCallbacks(),
    )
