"""An example SageMaker pipeline that rightsizes an approved model package and exposes the answer.

    python examples/rightsizing_pipeline.py QUEUE_URL ROLE_ARN   # prints the definition; add --upsert to create it

QUEUE_URL is the stack's PipelineCallbackQueueUrl; the pipeline's role (ROLE_ARN) needs sqs:SendMessage on the queue
(PipelineCallbackQueueArn). The profile ``profiles/<profile>.json`` must be in the stack's results bucket (see
events/profiles/fraud-xgboost.json). A later step reads the answer as
``rightsize.properties.Outputs["instance_type"]``, ``["instance_count"]`` and ``["usd_per_hour"]``.
"""

from __future__ import annotations

import sys
from typing import Any

from rightsizing_cli.pipelines import rightsizing_step

PIPELINE_NAME = "rightsize-model-package"


def _workflow() -> tuple[Any, Any]:
    try:
        from sagemaker.core.workflow.parameters import ParameterString
        from sagemaker.mlops.workflow.pipeline import Pipeline  # sagemaker 3
    except ImportError:
        from sagemaker.workflow.parameters import ParameterString  # sagemaker 2
        from sagemaker.workflow.pipeline import Pipeline
    return Pipeline, ParameterString


def build_pipeline(queue_url: str, sagemaker_session: Any = None) -> Any:
    pipeline_class, parameter = _workflow()
    package = parameter(name="ModelPackageArn")
    profile = parameter(name="RightsizingProfile", default_value="fraud-xgboost")
    step = rightsizing_step("Rightsize", queue_url, profile=profile, model_package_arn=package)
    return pipeline_class(
        name=PIPELINE_NAME, parameters=[package, profile], steps=[step], sagemaker_session=sagemaker_session
    )


if __name__ == "__main__":
    queue, role = sys.argv[1], sys.argv[2]
    pipeline = build_pipeline(queue)
    print(pipeline.definition())
    if "--upsert" in sys.argv[3:]:
        pipeline.upsert(role_arn=role)
