"""What the plan step hands to each Map iteration (CandidatePlan) and to the load generator (LoadTestJob).

Field names are read by JSONPath in ``statemachine/rightsizing.asl.json``; keep them in step. SageMaker API shapes
(``container``, ``tags``) use the API's PascalCase so the state machine can pass them through unchanged.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.knee import KneeSettings
from rightsizing.models.load import LoadSettings
from rightsizing.models.targets import LatencySla

# Tags on every AWS resource a run creates (SageMaker resources, worker tasks); the sweeper finds leftovers by them.
RUN_ID_TAG = "rightsizing:run-id"
CANDIDATE_TAG = "rightsizing:candidate-id"
RESOURCE_PREFIX = "rightsize"  # IAM policies scope SageMaker create/delete to names with this prefix


# A run id is the Step Functions execution name (1-80 characters, no spaces, brackets, wildcards, control
# characters or any of "#%\\^|~`$&,;:/) and becomes a SageMaker tag value (letters, digits, spaces and _.:/=+-@),
# an S3 prefix and part of every resource name. Both rules hold for ASCII letters, digits and _.=+@- only.
RUN_ID = re.compile(r"^[A-Za-z0-9_.=+@-]{1,80}$")
RUN_ID_RULE = "1-80 characters, each an ASCII letter, a digit or one of _ . = + @ -"


def check_run_id(run_id: str, field: str = "run_id") -> str:
    """Refuse a run id (execution name) that Step Functions, SageMaker tags or resource names would not take."""
    if not RUN_ID.match(run_id):
        raise InvalidRequest(field, f"'{run_id[:100]}' is not a valid run id: use {RUN_ID_RULE}")
    if not re.search(r"[A-Za-z0-9]", run_id):
        raise InvalidRequest(field, f"'{run_id}' needs at least one letter or digit")
    return run_id


def resource_name(run_id: str, index: int) -> str:
    """SageMaker names of the run's ``index``-th benchmark (model, endpoint config, endpoint): ≤ 63 characters of
    [a-zA-Z0-9-]; the run id's tail keeps them unique per run."""
    tail = re.sub(r"[^a-zA-Z0-9]+", "-", run_id).strip("-")[-40:].strip("-")
    return f"{RESOURCE_PREFIX}-{tail}-c{index:02d}"


def run_name_prefix(run_id: str) -> str:
    """What every resource name of the run starts with (the sweeper lists by it)."""
    return resource_name(run_id, 1).removesuffix("01")


def candidate_id_for(index: int, instance_type: str, environment: dict[str, str]) -> str:
    """``c01-ml-c6i-xlarge``, plus a digest of the environment when a grid makes several of one instance type."""
    slug = re.sub(r"[^a-z0-9]+", "-", instance_type.lower()).strip("-")
    if not environment:
        return f"c{index:02d}-{slug}"
    digest = hashlib.sha1(repr(sorted(environment.items())).encode()).hexdigest()[:6]
    return f"c{index:02d}-{slug}-{digest}"


def worker_started_by(run_id: str) -> str:
    """ECS ``startedBy`` of a run's load-generator worker tasks: ListTasks filters on it (not on tags), so the
    sweeper finds them by run id. ECS allows letters, digits, hyphens, underscores and slashes, up to 128."""
    return ("rightsizing/" + re.sub(r"[^A-Za-z0-9_/-]", "-", run_id))[:128]


def production_variants_for(
    instance_type: str, model_name: str, serverless_config: dict[str, int] | None, variant_name: str = "AllTraffic"
) -> list[dict[str, Any]]:
    """The one production variant of a candidate's endpoint config: a serverless variant has a ServerlessConfig and
    no InstanceType or InitialInstanceCount (CreateEndpointConfig refuses both together)."""
    variant: dict[str, Any] = {"VariantName": variant_name, "ModelName": model_name}
    if serverless_config is not None:
        variant["ServerlessConfig"] = dict(serverless_config)
    else:
        variant.update(InstanceType=instance_type, InitialInstanceCount=1)
    return [variant]


class LoadTestJob(BaseModel):
    """Everything the load generator needs, stored as JSON; the container gets only its URI (override size limit)."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    candidate_id: str
    instance_type: str
    endpoint_name: str
    region: str
    content_type: str
    payloads_uri: str = Field(description="Store URI of the run's payloads.json: every body, base64-encoded.")
    sla: LatencySla
    max_error_rate: float
    load: LoadSettings
    max_seconds: int
    results_uri: str = Field(description="Store prefix where the load test writes its artefacts.")
    serverless_max_concurrency: int | None = Field(
        None,
        description="A serverless endpoint's MaxConcurrency: the closed-loop users are capped at it (more are "
        "throttled), and the first request after deployment is measured apart as the cold start.",
    )
    knee: KneeSettings | None = Field(None, description="The request's knee: bounds and extra probes for the curve.")


class CandidatePlan(BaseModel):
    """One Map item: a candidate's resource names and settings."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    candidate_id: str
    instance_type: str
    environment: dict[str, str]
    model_name: str
    endpoint_config_name: str
    endpoint_name: str
    variant_name: str = "AllTraffic"
    container: dict[str, Any] = Field(description="CreateModel PrimaryContainer, API casing.")
    production_variants: list[dict[str, Any]] = Field(
        default_factory=list,
        description="CreateEndpointConfig ProductionVariants, API casing: InstanceType and InitialInstanceCount for "
        "an instance candidate, ServerlessConfig for a serverless one (production_variants_for).",
    )
    network_isolation: bool = Field(False, description="CreateModel EnableNetworkIsolation (the request's model).")
    tags: list[dict[str, str]] = Field(description="[{Key, Value}] for every created resource.")
    job_uri: str
    results_uri: str
    poll_seconds: int
    max_polls: int
    load_test_timeout_seconds: int = Field(description="Task timeout: the test bound plus container start-up.")
    existing_endpoint: bool = Field(
        False, description="An endpoint deployed outside the run: the state machine neither creates nor deletes it."
    )
    max_delete_attempts: int = Field(
        1, ge=1, description="DeleteEndpoint tries, poll_seconds apart (refused while an endpoint is Creating)."
    )
    metrics_delay_seconds: int = Field(
        0, ge=0, description="Wait after the test before reading CloudWatch, which publishes per minute with a lag."
    )
    skip_reason: str | None = Field(
        None,
        description="Set when the candidate's worst case would pass budget_usd: the Map iteration creates nothing "
        "and records the candidate as skipped with this reason.",
    )
    worst_usd: float | None = Field(None, description="The candidate's worst-case cost, committed against the budget.")


class RunPlan(BaseModel):
    """Output of the plan step: the validated run and its Map items."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    run_uri: str = Field(description="Store prefix of this run's artefacts (request, jobs, results, report).")
    max_concurrency: int
    candidates: list[CandidatePlan]
