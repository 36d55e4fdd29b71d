"""The rightsizing request: the service's public input contract.

Everything a run needs is validated here, before any resource is created. Field names are the JSON keys a user
writes and the paths the state machine reads.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from rightsizing.models.common import Percentile

# ml.<family>.<size>, e.g. ml.c6i.xlarge, ml.g4dn.12xlarge, ml.inf2.xlarge, ml.m7i.large
AWS_INSTANCE_TYPE = re.compile(r"^ml\.[a-z][a-z0-9-]*\.(?:[0-9]*x?large|medium|small|metal(?:-\d+xl)?)$")
# Local profiles are declared in the local catalog and always carry the "local." prefix, so they can never be
# mistaken for an AWS instance type in a report.
LOCAL_INSTANCE_TYPE = re.compile(r"^local\.[a-z0-9][a-z0-9-]*$")
ENV_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")
MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w\-/]+(?:/\d+)?$")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's real-time body limit

StrictModel = ConfigDict(extra="forbid", str_strip_whitespace=True)


@cache
def known_regions() -> frozenset[str]:
    """Regions where SageMaker exists, from botocore's bundled endpoint data (no network call)."""
    import boto3

    return frozenset(boto3.session.Session().get_available_regions("sagemaker"))


class LocalModelSource(BaseModel):
    """A model served on this machine by the bundled SageMaker-contract server."""

    model_config = StrictModel
    type: Literal["local"] = "local"
    builtin: Literal["fraud-classifier"] = Field(
        "fraud-classifier", description="Bundled model, trained on generated data at first use and cached."
    )


class ContainerModelSource(BaseModel):
    """An inference container image plus optional model artefact (CreateModel PrimaryContainer)."""

    model_config = StrictModel
    type: Literal["container"] = "container"
    image: str = Field(min_length=1, max_length=255, description="ECR image URI of the inference container.")
    model_data_url: str | None = Field(None, pattern=r"^(s3|https)://\S+$", description="s3:// URI of model.tar.gz.")
    environment: dict[str, str] = Field(default_factory=dict)


class ModelPackageSource(BaseModel):
    """A versioned model package from the SageMaker Model Registry (or AWS Marketplace)."""

    model_config = StrictModel
    type: Literal["model_package"] = "model_package"
    model_package_arn: str

    @field_validator("model_package_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not MODEL_PACKAGE_ARN.match(value):
            raise ValueError("must be a model-package ARN (arn:aws:sagemaker:<region>:<account>:model-package/…)")
        return value


ModelSource = Annotated[LocalModelSource | ContainerModelSource | ModelPackageSource, Field(discriminator="type")]


class CandidateSpec(BaseModel):
    """One instance type to benchmark, optionally with a grid of container environment settings."""

    model_config = StrictModel
    instance_type: str = Field(description="ml.<family>.<size> on AWS, local.<profile> in local mode.")
    environment: dict[str, str] = Field(default_factory=dict, description="Fixed extra container environment.")
    environment_grid: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Each combination becomes its own benchmark, e.g. {'OMP_NUM_THREADS': ['1', '2']}.",
    )
    endpoint_name: str | None = Field(
        None,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
        description="Benchmark this already deployed endpoint (running on instance_type) instead of deploying one: "
        "nothing is created or deleted for this candidate.",
    )

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not (AWS_INSTANCE_TYPE.match(value) or LOCAL_INSTANCE_TYPE.match(value)):
            raise ValueError(
                f"'{value}' is not an instance type name: expected ml.<family>.<size> (e.g. ml.c6i.xlarge) "
                "or local.<profile> (e.g. local.small)"
            )
        return value

    @field_validator("environment", "environment_grid")
    @classmethod
    def _env_names(cls, value: dict) -> dict:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid environment variable name")
        return value

    @field_validator("environment_grid")
    @classmethod
    def _grid_values(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, options in value.items():
            if not options:
                raise ValueError(f"grid entry '{name}' needs at least one value")
            if len(set(options)) != len(options):
                raise ValueError(f"grid entry '{name}' repeats a value")
        return value

    def variants(self) -> list[dict[str, str]]:
        """The environments to benchmark: the fixed environment merged with every grid combination."""
        names = sorted(self.environment_grid)
        combos = itertools.product(*(self.environment_grid[n] for n in names))
        return [{**self.environment, **dict(zip(names, combo, strict=True))} for combo in combos]

    @property
    def is_local(self) -> bool:
        return self.instance_type.startswith("local.")

    @model_validator(mode="after")
    def _existing_endpoint(self) -> CandidateSpec:
        if self.endpoint_name and (self.environment or self.environment_grid):
            raise ValueError("an existing endpoint cannot be given an environment: it runs as it was deployed")
        return self


class TrafficTarget(BaseModel):
    model_config = StrictModel
    min_rps: float = Field(gt=0, le=1_000_000, description="Requests per second the endpoint must sustain.")
    max_rps: float | None = Field(None, gt=0, le=1_000_000, description="Peak of a range; enables autoscaling advice.")

    @model_validator(mode="after")
    def _range(self) -> TrafficTarget:
        if self.max_rps is not None and self.max_rps < self.min_rps:
            raise ValueError("max_rps must be at least min_rps")
        return self


class LatencySla(BaseModel):
    model_config = StrictModel
    percentile: Percentile = "p95"
    milliseconds: float = Field(gt=0, le=60_000, description="Client-side latency bound at that percentile.")


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


class LoadSettings(BaseModel):
    model_config = StrictModel
    mode: Literal["adaptive", "ramp", "stepped"] = Field(
        "adaptive",
        description="'adaptive': warm-up, closed-loop ceiling probe, then an open-loop (fixed arrival rate) search "
        "for the highest rate within the SLA, to `precision`. 'ramp': the classic baseline — users ramped linearly "
        "(5/s, think time 0.25-0.5 s) until >= 1 % failures; ignores the SLA. 'stepped': closed-loop user steps "
        "1, 2, 4, … until the SLA breaks or throughput stops growing.",
    )
    step_seconds: float = Field(2.0, ge=1, le=600, description="Measured seconds per closed-loop step.")
    max_users: int = Field(256, ge=1, le=100_000)
    warmup_seconds: float = Field(3.0, ge=0, le=600, description="Adaptive: discarded warm-up at one user.")
    precision: float = Field(0.05, gt=0, le=0.5, description="Adaptive: stop when the pass/fail bracket is this tight.")
    min_completions: int = Field(
        600, ge=50, le=1_000_000, description="Adaptive: completions per open-loop probe (tail statistics need ~100)."
    )
    max_probe_seconds: float = Field(30.0, ge=2, le=600, description="Adaptive: cap on one open-loop probe.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Load-generator processes to start with. 1 (with max_workers 1) runs Locust in-process; more "
        "run Locust's master/worker mode inside the load-test task, one process per worker.",
    )
    max_workers: int | Literal["auto"] = Field(
        1,
        description="When a probe finds the generator saturated (CPU > 90 % or > 1 % late sends), add worker "
        "processes up to this many and re-measure; 'auto' = the CPUs available to the load-test task.",
    )

    @field_validator("max_workers")
    @classmethod
    def _max_workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 64:
            raise ValueError("must be between 1 and 64, or 'auto'")
        return value

    @model_validator(mode="after")
    def _workers(self) -> LoadSettings:
        if isinstance(self.max_workers, int) and self.max_workers < self.workers:
            raise ValueError(f"max_workers ({self.max_workers}) is below workers ({self.workers})")
        if self.mode == "ramp" and self.distributed:
            raise ValueError("mode 'ramp' is the single-process classic baseline: use workers 1 and max_workers 1")
        return self

    @property
    def distributed(self) -> bool:
        """Locust master/worker processes rather than one in-process generator."""
        return self.workers > 1 or self.max_workers != 1


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
    region: str = "us-east-1"
    budget_usd: float | None = Field(None, gt=0, description="Refuse to start when the benchmark could cost more.")
    tags: dict[str, str] = Field(default_factory=dict, max_length=40)
    sizing: SizingOptions = Field(default_factory=SizingOptions)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in known_regions():
            raise ValueError(f"unknown region '{value}' (SageMaker regions: {', '.join(sorted(known_regions()))})")
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
        seen: set[tuple[str, tuple, str, str | None]] = set()
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
