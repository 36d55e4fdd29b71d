"""The rightsizing request: the service's public input contract.

Everything a run needs is validated here, before any resource is created. Field names are the JSON keys a user
writes and the paths the state machine reads. The parts live in their own modules (``sources``, ``candidates``,
``load``); they are re-exported here so ``from rightsizing.models.request import …`` keeps working.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.candidates import AWS_INSTANCE_TYPE, ENV_NAME, LOCAL_INSTANCE_TYPE, CandidateSpec
from rightsizing.models.common import StrictModel
from rightsizing.models.history import HistorySettings
from rightsizing.models.load import LoadMode, LoadSettings, Phase, PhaseStop
from rightsizing.models.sources import (
    MODEL_PACKAGE_ARN,
    ContainerModelSource,
    LocalModelSource,
    ModelPackageSource,
    ModelSource,
)
from rightsizing.models.targets import LatencySla, TrafficTarget

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's real-time body limit
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

__all__ = [
    "AWS_INSTANCE_TYPE",
    "ENV_NAME",
    "LOCAL_INSTANCE_TYPE",
    "MAX_PAYLOAD_BYTES",
    "MODEL_PACKAGE_ARN",
    "CandidateSpec",
    "ContainerModelSource",
    "HistorySettings",
    "LatencySla",
    "Limits",
    "LoadMode",
    "LoadSettings",
    "LocalModelSource",
    "ModelPackageSource",
    "ModelSource",
    "Payloads",
    "Phase",
    "PhaseStop",
    "RightsizingRequest",
    "SizingOptions",
    "StrictModel",
    "TrafficTarget",
]


class Payloads(BaseModel):
    """Sample request bodies; the load generator rotates through them."""

    model_config = StrictModel
    content_type: str = Field("text/csv", pattern=r"^[\w.+-]+/[\w.+-]+(;.*)?$")
    samples: list[str] = Field(default_factory=list, description="Inline request bodies.")
    files: list[str] = Field(default_factory=list, description="Paths (relative to the request file) of bodies.")

    @field_validator("samples")
    @classmethod
    def _sample_size(cls, value: list[str]) -> list[str]:
        for index, body in enumerate(value):
            if len(body.encode()) > MAX_PAYLOAD_BYTES:
                raise ValueError(f"samples[{index}] is larger than InvokeEndpoint's 6 MB body limit")
        return value

    @field_validator("files")
    @classmethod
    def _files_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Checked (and made absolute) when the request is read from a file; see ``load_request_file``."""
        base_dir = (info.context or {}).get("base_dir")
        if base_dir is None:
            return value
        resolved = []
        for name in value:
            path = (Path(base_dir) / name).resolve()
            if not path.is_file():
                raise ValueError(f"payload file '{name}' not found (looked for {path})")
            if path.stat().st_size > MAX_PAYLOAD_BYTES:
                raise ValueError(f"payload file '{name}' is larger than InvokeEndpoint's 6 MB body limit")
            resolved.append(str(path))
        return resolved

    @model_validator(mode="after")
    def _some(self) -> Payloads:
        if not self.samples and not self.files:
            raise ValueError("give at least one payload in 'samples' or 'files'")
        return self


class Limits(BaseModel):
    model_config = StrictModel
    max_seconds_per_candidate: int = Field(600, ge=10, le=7200, description="Hard bound on one candidate's test.")
    max_parallel_candidates: int = Field(4, ge=1, le=40, description="Map concurrency (inline Map caps at 40).")
    poll_seconds: int | None = Field(
        None, ge=1, le=300, description="Seconds between endpoint status polls; default 30 on AWS, 1 locally."
    )
    max_endpoint_wait_seconds: int = Field(3600, ge=60, le=14_400, description="Give up on InService after this.")


class SizingOptions(BaseModel):
    """How measured per-instance rates become a fleet size and a price (the recommender's knobs)."""

    model_config = StrictModel
    # Below 1 by default: SageMaker routes requests across instances randomly unless RoutingStrategy is
    # LEAST_OUTSTANDING_REQUESTS, so N instances saturate unevenly and serve less than N x one instance.
    scaling_efficiency: float = Field(
        0.9, gt=0, le=1, description="Share of N x the single-instance rate a fleet of N > 1 is assumed to sustain."
    )
    min_instances: int = Field(1, ge=1, le=100, description="Never recommend fewer (e.g. 2 for availability).")
    autoscaling_safety_factor: float = Field(
        0.5, gt=0, le=1, description="SageMakerVariantInvocationsPerInstance target = rate x this x 60 (AWS: 0.5)."
    )
    savings_plan_discount_percent: float = Field(
        0, ge=0, lt=100, description="SageMaker Savings Plan discount applied to on-demand prices (both are reported)."
    )


class RightsizingRequest(BaseModel):
    """What a team asks: serve this model at this rate within this latency, as cheaply as possible."""

    model_config = StrictModel
    name: str = Field("rightsizing", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}$", description="Label for the run.")
    model: ModelSource = Field(default_factory=LocalModelSource)
    candidates: list[CandidateSpec] = Field(min_length=1, max_length=40)
    traffic: TrafficTarget
    sla: LatencySla
    max_error_rate: float = Field(0.01, ge=0, le=0.5, description="Largest failed-request share that still passes.")
    payloads: Payloads
    load: LoadSettings = Field(default_factory=LoadSettings)
    limits: Limits = Field(default_factory=Limits)
    # The shape only: SageMaker's own region list is botocore's, checked where AWS is in reach (the AWS guard and
    # `rightsize validate` for ml.* requests), so this model stays free of boto3.
    region: str = Field("us-east-1", description="AWS region of the run, e.g. us-east-1.")
    budget_usd: float | None = Field(None, gt=0, description="Refuse to start when the benchmark could cost more.")
    tags: dict[str, str] = Field(default_factory=dict, max_length=40)
    sizing: SizingOptions = Field(default_factory=SizingOptions)
    history: HistorySettings = Field(default_factory=HistorySettings)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION_NAME.match(value):
            raise ValueError(f"'{value}' is not an AWS region name (e.g. us-east-1, eu-west-2, ap-southeast-1)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}' must be 1-128 characters and not start with 'aws:'")
            if len(tag_value) > 256:
                raise ValueError(f"tag '{key}' value is longer than 256 characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RightsizingRequest:
        seen: set[tuple[str, tuple[tuple[str, str], ...], str, str | None]] = set()
        for index, candidate in enumerate(self.candidates):
            env = tuple(sorted(candidate.environment.items()))
            key = (candidate.instance_type, env, repr(candidate.environment_grid), candidate.endpoint_name)
            if key in seen:
                raise ValueError(f"candidates[{index}] duplicates an earlier candidate ({candidate.instance_type})")
            seen.add(key)
        local = {c.is_local for c in self.candidates}
        if len(local) > 1:
            raise ValueError("candidates mix local profiles and AWS instance types; use one kind per run")
        deploys = any(c.endpoint_name is None for c in self.candidates)
        if deploys and self.is_local != isinstance(self.model, LocalModelSource):
            raise ValueError("local.* candidates need model.type 'local', and ml.* candidates an AWS model source")
        if sum(len(c.variants()) for c in self.candidates) > 40:
            raise ValueError("candidates expand (with their environment grids) to more than 40 benchmarks")
        return self

    @property
    def is_local(self) -> bool:
        return self.candidates[0].is_local

    def variants(self) -> list[tuple[CandidateSpec, dict[str, str]]]:
        """Every benchmark of the run, in plan order: each candidate with each environment of its grid."""
        return [(spec, environment) for spec in self.candidates for environment in spec.variants()]


def parse_request(document: object, base_dir: object = None) -> RightsizingRequest:
    """The validated request, or InvalidRequest naming each bad field. ``base_dir``: where payload files live."""
    try:
        return RightsizingRequest.model_validate(document, context={"base_dir": base_dir} if base_dir else None)
    except ValidationError as e:
        raise InvalidRequest.from_validation_error(e) from e
