"""The rightsizing request: the service's public input contract.

Everything a run needs is validated here, before any resource is created. Field names are the JSON keys a user
writes and the paths the state machine reads. The parts live in their own modules (``sources``, ``candidates``,
``load``); they are re-exported here so ``from rightsizing.models.request import …`` keeps working.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from rightsizing.models.candidates import AWS_INSTANCE_TYPE, ENV_NAME, LOCAL_INSTANCE_TYPE, CandidateSpec
from rightsizing.models.common import StrictModel
from rightsizing.models.history import HistorySettings
from rightsizing.models.knee import MAX_KNEE_BOUNDS, KneeSettings, fits_time, knee_bounds
from rightsizing.models.load import LoadMode, LoadSettings, Phase, PhaseStop
from rightsizing.models.messages import CONTENT_TYPE, RUN_NAME, FieldProblem, invalid_request, shown
from rightsizing.models.sources import (
    MODEL_PACKAGE_ARN,
    ContainerModelSource,
    LocalModelSource,
    ModelPackageSource,
    ModelSource,
)
from rightsizing.models.targets import LatencySla, TrafficTarget

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's real-time body limit
# A payload archive (tar.gz of sample bodies): its compressed size, and how many files it may hold. Every body of a
# run, from any source, is kept in memory by the plan step (512 MB Lambda) and by each load-generator process.
MAX_ARCHIVE_BYTES = 32 * 10**6
MAX_ARCHIVE_MEMBERS = 1000
MAX_TOTAL_PAYLOAD_BYTES = 32 * 10**6
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
S3_OBJECT = re.compile(r"^s3://[^/]+/.+$")
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
MAX_BENCHMARKS = 40  # an inline Map runs at most 40 iterations at once, and every one counts toward its history
# The SLA must leave room, within one candidate's time limit, for this many requests as slow as the SLA in a row:
# every search starts at one user, and 20 samples are the fewest with a single request above a p95.
MIN_REQUESTS_AT_SLA = 20
MIN_TRIAL_SECONDS = 10  # a trial shorter than this cannot warm up, bracket and measure
# SageMaker tag keys and values: [\p{L}\p{Z}\p{N}_.:/=+\-@]* (botocore's TagKey/TagValue), i.e. Unicode letters,
# separators and numbers, and these.
TAG_PUNCTUATION = frozenset("_.:/=+-@")

__all__ = [
    "AWS_INSTANCE_TYPE",
    "ENV_NAME",
    "LOCAL_INSTANCE_TYPE",
    "MAX_ARCHIVE_BYTES",
    "MAX_ARCHIVE_MEMBERS",
    "MAX_PAYLOAD_BYTES",
    "MAX_TOTAL_PAYLOAD_BYTES",
    "MODEL_PACKAGE_ARN",
    "CandidateSpec",
    "ContainerModelSource",
    "HistorySettings",
    "KneeSettings",
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
    """Sample request bodies; the load generator rotates through them. Files and archive members are read as bytes
    (``rightsizing.payload_bodies``), so binary bodies (images, .npy arrays, protobuf) are sent unchanged."""

    model_config = StrictModel
    content_type: str = Field("text/csv", pattern=CONTENT_TYPE.pattern)
    samples: list[str] = Field(default_factory=list, description="Inline request bodies (text).")
    samples_base64: list[str] = Field(
        default_factory=list, description="Inline binary request bodies, base64-encoded (standard alphabet, padded)."
    )
    files: list[str] = Field(default_factory=list, description="Paths (relative to the request file) of bodies.")
    archive: str | None = Field(
        None,
        description="A tar.gz of sample bodies, one per file (as SageMaker Inference Recommender takes): a path "
        "relative to the request file, or an s3:// URI. At most 1000 files, each <= 6 MB, 32 MB in all.",
    )

    @field_validator("samples")
    @classmethod
    def _sample_size(cls, value: list[str]) -> list[str]:
        for index, body in enumerate(value):
            if len(body.encode()) > MAX_PAYLOAD_BYTES:
                raise ValueError(f"samples[{index}] is larger than InvokeEndpoint's 6 MB body limit")
        return value

    @field_validator("samples_base64")
    @classmethod
    def _base64(cls, value: list[str]) -> list[str]:
        for index, text in enumerate(value):
            try:
                body = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(
                    f"samples_base64[{index}] is not valid base64 (standard alphabet A-Z a-z 0-9 + /, '=' padding)"
                ) from None
            if not body:
                raise ValueError(f"samples_base64[{index}] is empty: a request body needs at least one byte")
            if len(body) > MAX_PAYLOAD_BYTES:
                raise ValueError(f"samples_base64[{index}] is larger than InvokeEndpoint's 6 MB body limit")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Read from a request file (``load_request_file``), each path is relative to the file's folder, must stay
        inside it (a request must not read other files of this machine) and is made absolute; ``s3://`` URIs are
        read by the plan step. Without a folder (the plan step's own check) a relative path is refused: it would be
        read from whatever folder the process happens to run in."""
        return [_payload_location(name, info, MAX_PAYLOAD_BYTES) for name in value]

    @field_validator("archive")
    @classmethod
    def _archive(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.lower().endswith(ARCHIVE_SUFFIXES):
            raise ValueError(f"{shown(value)}: a payload archive is a .tar.gz (or .tgz, .tar) file")
        return _payload_location(value, info, MAX_ARCHIVE_BYTES)

    @model_validator(mode="after")
    def _some(self) -> Payloads:
        if not (self.samples or self.samples_base64 or self.files or self.archive):
            raise ValueError("give at least one payload in 'samples', 'samples_base64', 'files' or 'archive'")
        return self


def _payload_location(name: str, info: ValidationInfo, max_bytes: int) -> str:
    """An ``s3://`` URI as is; a local path resolved in the request file's folder (see ``Payloads._files``)."""
    if name.startswith("s3://"):
        if not S3_OBJECT.match(name):
            raise ValueError(f"{shown(name)}: an s3:// URI names a bucket and an object key, s3://bucket/key")
        return name
    if "://" in name:
        raise ValueError(f"{shown(name)}: give a path relative to the request file, or an s3:// URI")
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is None:
        if not Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(
                f"{shown(name)}: the state machine reads a payload file by its s3:// URI, or by the absolute "
                "path rightsize gives a file beside the request; a relative path (or one with '..') has no "
                "folder to be read from"
            )
        return name
    return str(_payload_file(name, Path(base_dir), max_bytes))


def _payload_file(name: str, folder: Path, max_bytes: int = MAX_PAYLOAD_BYTES) -> Path:
    """``name`` resolved in ``folder`` (symbolic links followed), refused unless it is a readable file inside it."""
    folder = folder.resolve()
    path = (folder / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(folder):
        raise ValueError(
            f"payload file {shown(name)} is outside the request's folder ({folder}): a request may only read files "
            "in its own folder or below it"
        )
    if not path.is_file():
        raise ValueError(f"payload file {shown(name)} not found (looked for {path})")
    if path.stat().st_size > max_bytes:
        limit = "InvokeEndpoint's 6 MB body limit" if max_bytes == MAX_PAYLOAD_BYTES else f"{max_bytes // 10**6} MB"
        raise ValueError(f"payload file {shown(name)} is larger than {limit}")
    return path


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
    size_on: Literal["mean", "lower_bound"] = Field(
        "mean",
        description="With load.trials of 2 or more, the per-instance rate a fleet is sized on: 'mean' of the trials, "
        "or 'lower_bound' = the lower end of their 95 % interval (more instances, less risk of missing the target).",
    )


class RightsizingRequest(BaseModel):
    """What a team asks: serve this model at this rate within this latency, as cheaply as possible."""

    model_config = StrictModel
    name: str = Field("rightsizing", pattern=RUN_NAME.pattern, description="Label for the run.")
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
    budget_usd: float | None = Field(
        None,
        gt=0,
        description="Cap on the endpoints' worst-case cost: candidates that would pass it are skipped (in order); "
        "the run is refused only if none fits.",
    )
    tags: dict[str, str] = Field(default_factory=dict, max_length=40)
    sizing: SizingOptions = Field(default_factory=SizingOptions)
    history: HistorySettings = Field(default_factory=HistorySettings)
    knee: KneeSettings = Field(
        default_factory=KneeSettings.reuse_only,
        description="Capacity at other latency bounds too (the knee curve). Default: half and twice the SLA, from "
        "the search's own probes only (extra_probes 0).",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION_NAME.match(value):
            raise ValueError(
                f"{shown(value)} is not an AWS region name: two letters, a place and a number, joined by hyphens, "
                f"in lower case, e.g. us-east-1, eu-west-2, ap-southeast-1 (pattern {REGION_NAME.pattern})"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise ValueError(f"tag key {shown(key)} must be 1-128 characters and not start with 'aws:'")
            if len(tag_value) > 256:
                raise ValueError(f"tag {shown(key)}'s value is longer than 256 characters")
            for text in (key, tag_value):
                if not all(_tag_character(character) for character in text):
                    raise ValueError(
                        f"tag {shown(key)}: {shown(text)} has a character SageMaker tags refuse: tags take letters, "
                        "digits, spaces and _ . : / = + - @ only (pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"
                    )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RightsizingRequest:
        # Serverless candidates take the run's mode from its instance candidates, or else from the model source.
        instances = [c for c in self.candidates if not c.is_serverless]
        local = instances[0].is_local if instances else isinstance(self.model, LocalModelSource)
        self.candidates = [c.labelled_for(local) for c in self.candidates]
        seen: set[tuple[str, tuple[tuple[str, str], ...], str, str | None]] = set()
        for index, candidate in enumerate(self.candidates):
            env = tuple(sorted(candidate.environment.items()))
            key = (candidate.instance_type, env, repr(candidate.environment_grid), candidate.endpoint_name)
            if key in seen:
                raise FieldProblem(
                    f"candidates.{index}", f"duplicates an earlier candidate ({candidate.instance_type})"
                )
            seen.add(key)
        kinds = {c.is_local for c in self.candidates}
        if len(kinds) > 1:
            raise FieldProblem("candidates", "mixes local profiles and AWS instance types; use one kind per run")
        deploys = any(c.endpoint_name is None for c in self.candidates)
        if deploys and self.is_local != isinstance(self.model, LocalModelSource):
            raise FieldProblem(
                "model.type", "local.* candidates need model.type 'local', and ml.* candidates an AWS model source"
            )
        benchmarks = sum(len(c.variants()) for c in self.candidates)
        if benchmarks > MAX_BENCHMARKS:
            raise FieldProblem(
                "candidates",
                f"expands (with the environment grids) to {benchmarks} benchmarks; a run holds at most "
                f"{MAX_BENCHMARKS} (Step Functions' inline Map)",
            )
        budget_ms = self.limits.max_seconds_per_candidate * 1000
        if self.sla.milliseconds * MIN_REQUESTS_AT_SLA > budget_ms:
            raise FieldProblem(
                "sla.milliseconds",
                f"{self.sla.milliseconds:g} ms is more than 1/{MIN_REQUESTS_AT_SLA} of "
                f"limits.max_seconds_per_candidate ({self.limits.max_seconds_per_candidate} s): a test starts with "
                f"one user, and one that cannot complete {MIN_REQUESTS_AT_SLA} requests as slow as the SLA one "
                f"after another cannot measure a {self.sla.percentile}; raise max_seconds_per_candidate to at least "
                f"{math.ceil(self.sla.milliseconds * MIN_REQUESTS_AT_SLA / 1000)} s",
            )
        self._check_trials()
        self._knee_fits()
        return self

    def _check_trials(self) -> None:
        """Each trial gets an equal share of one candidate's time limit, and only trials make an interval."""
        trials = self.load.trials
        if self.sizing.size_on == "lower_bound" and trials < 2:
            raise FieldProblem(
                "sizing.size_on",
                "'lower_bound' sizes on the lower end of the trials' 95 % interval, which needs load.trials of 2 or "
                "more (it is 1)",
            )
        if trials > 1 and self.knee.extra_probes:
            raise FieldProblem(
                "knee.extra_probes",
                f"no probes are added for the knee curve with load.trials of 2 or more (it is {trials}): each "
                "trial's capacity per bound comes from its own search's probes, and the bounds are their means; "
                "set extra_probes to 0, or use one trial",
            )
        share = self.limits.max_seconds_per_candidate / trials
        if trials > 1 and (share < MIN_TRIAL_SECONDS or self.sla.milliseconds * MIN_REQUESTS_AT_SLA > share * 1000):
            need = max(MIN_TRIAL_SECONDS, math.ceil(self.sla.milliseconds * MIN_REQUESTS_AT_SLA / 1000)) * trials
            raise FieldProblem(
                "load.trials",
                f"{trials} trials share limits.max_seconds_per_candidate ({self.limits.max_seconds_per_candidate} s): "
                f"{share:.0f} s each is too short for a search (each needs at least {MIN_TRIAL_SECONDS} s and "
                f"{MIN_REQUESTS_AT_SLA} requests as slow as the SLA); use fewer trials or raise "
                f"max_seconds_per_candidate to at least {need} s",
            )

    def _knee_fits(self) -> None:
        """Each explicit knee bound obeys the SLA's time rule; with the SLA, at most MAX_KNEE_BOUNDS in all."""
        limit = self.limits.max_seconds_per_candidate
        for index, bound in enumerate(self.knee.bounds_ms or []):
            if not fits_time(bound, limit):
                raise FieldProblem(
                    f"knee.bounds_ms.{index}",
                    f"{bound:g} ms is more than 1/{MIN_REQUESTS_AT_SLA} of limits.max_seconds_per_candidate "
                    f"({limit} s), the same rule as the SLA's: raise max_seconds_per_candidate to at least "
                    f"{math.ceil(bound * MIN_REQUESTS_AT_SLA / 1000)} s or drop the bound",
                )
        bounds = knee_bounds(self.sla, self.knee, limit)
        if len(bounds) > MAX_KNEE_BOUNDS:
            raise FieldProblem(
                "knee.bounds_ms",
                f"{len(bounds)} distinct bounds with the SLA's {self.sla.milliseconds:g} ms; at most "
                f"{MAX_KNEE_BOUNDS} in all",
            )

    @property
    def knee_bounds_ms(self) -> list[float]:
        """The knee's bounds, ascending, the SLA's among them."""
        return knee_bounds(self.sla, self.knee, self.limits.max_seconds_per_candidate)

    @property
    def is_local(self) -> bool:
        return self.candidates[0].is_local

    def variants(self) -> list[tuple[CandidateSpec, dict[str, str]]]:
        """Every benchmark of the run, in plan order: each candidate with each environment of its grid."""
        return [(spec, environment) for spec in self.candidates for environment in spec.variants()]


def _tag_character(character: str) -> bool:
    return character in TAG_PUNCTUATION or unicodedata.category(character)[0] in "LZN"


def parse_request(document: object, base_dir: object = None) -> RightsizingRequest:
    """The validated request, or InvalidRequest naming each bad field. ``base_dir``: where payload files live."""
    try:
        return RightsizingRequest.model_validate(document, context={"base_dir": base_dir} if base_dir else None)
    except ValidationError as e:
        raise invalid_request(e, RightsizingRequest) from e
