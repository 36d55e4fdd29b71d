"""Where the model to benchmark comes from: the request's ``model`` field."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from rightsizing.models.candidates import ENV_NAME, MAX_ENV_ENTRIES, MAX_ENV_VALUE_CHARS
from rightsizing.models.common import StrictModel
from rightsizing.models.messages import MODEL_DATA_URL, shown

MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w\-/]+(?:/\d+)?$")


class LocalModelSource(BaseModel):
    """A model served on this machine by the bundled SageMaker-contract server."""

    model_config = StrictModel
    type: Literal["local"] = "local"
    builtin: Literal["fraud-classifier", "image-classifier"] = Field(
        "fraud-classifier", description="Bundled model, trained on generated data at first use and cached."
    )


class ContainerModelSource(BaseModel):
    """An inference container image plus optional model artefact (CreateModel PrimaryContainer)."""

    model_config = StrictModel
    type: Literal["container"] = "container"
    image: str = Field(min_length=1, max_length=255, description="ECR image URI of the inference container.")
    model_data_url: str | None = Field(None, pattern=MODEL_DATA_URL.pattern, description="s3:// URI of model.tar.gz.")
    environment: dict[str, str] = Field(default_factory=dict)
    network_isolation: bool = Field(
        False,
        description="CreateModel EnableNetworkIsolation: the container gets no network access. AWS Marketplace model "
        "packages and algorithms require true (SageMaker refuses to create their model otherwise).",
    )

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        # CreateModel's own limits (botocore's EnvironmentMap, EnvironmentKey, EnvironmentValue).
        if len(value) > MAX_ENV_ENTRIES:
            raise ValueError(f"{len(value)} variables; CreateModel takes at most {MAX_ENV_ENTRIES}")
        for name, setting in value.items():
            if not ENV_NAME.match(name):
                raise ValueError(
                    f"{shown(name)} is not an environment variable name: letters, digits and underscores, not "
                    f"starting with a digit, at most 1024 characters (pattern {ENV_NAME.pattern})"
                )
            if len(setting) > MAX_ENV_VALUE_CHARS:
                raise ValueError(f"{name}'s value is {len(setting)} characters; CreateModel takes at most 1024")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if any(character.isspace() for character in value):  # CreateModel's ContainerImage pattern is [\S]+
            raise ValueError(f"{shown(value)} is not an image URI: it contains a space")
        return value


class ModelPackageSource(BaseModel):
    """A versioned model package from the SageMaker Model Registry (or AWS Marketplace)."""

    model_config = StrictModel
    type: Literal["model_package"] = "model_package"
    model_package_arn: str
    network_isolation: bool = Field(
        False,
        description="CreateModel EnableNetworkIsolation: the container gets no network access. AWS Marketplace model "
        "packages and algorithms require true (SageMaker refuses to create their model otherwise).",
    )

    @field_validator("model_package_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not MODEL_PACKAGE_ARN.match(value):
            raise ValueError(
                f"{shown(value)} is not a model-package ARN: arn:aws:sagemaker:<region>:<12-digit account>:"
                "model-package/<name>[/<version>]"
            )
        return value


ModelSource = Annotated[LocalModelSource | ContainerModelSource | ModelPackageSource, Field(discriminator="type")]
