"""Plan step (first state): validate the request, check it can run, write the jobs, name every resource.

Nothing is created in SageMaker before this step succeeds, so a bad request costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from rightsizing.estimate import BudgetShare, allocate_budget, estimate_run
from rightsizing.exceptions import BudgetExceeded, InvalidRequest
from rightsizing.history_budget import poll_schedule
from rightsizing.models.plan import (
    CANDIDATE_TAG,
    RUN_ID_TAG,
    CandidatePlan,
    LoadTestJob,
    RunPlan,
    candidate_id_for,
    check_run_id,
    production_variants_for,
    resource_name,
)
from rightsizing.models.request import (
    MAX_ARCHIVE_BYTES,
    MAX_PAYLOAD_BYTES,
    CandidateSpec,
    ContainerModelSource,
    LoadSettings,
    ModelPackageSource,
    RightsizingRequest,
    parse_request,
)
from rightsizing.payload_bodies import collect_bodies, payloads_document
from rightsizing.ports import Backend
from rightsizing.store import ArtifactStore, get_json, join_uri, put_json

# Step Functions fails a state above 256 KB; the plan's own share leaves room for the run's other fields.
MAX_PLAN_BYTES = 192 * 1024
TASK_START_MARGIN_SECONDS = 600  # Fargate image pull and start take 20-90 s; never cut a test short for it


class PlanInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: object  # any JSON: parse_request refuses a non-object as an InvalidRequest naming it
    run_id: str
    artifacts_uri: str


def plan_run(event: PlanInput, backend: Backend) -> RunPlan:
    check_run_id(event.run_id)
    request = parse_request(event.request)
    backend.guard.check(request)
    budget = _check_budget(request, backend)

    run_uri = join_uri(event.artifacts_uri, "runs", event.run_id)
    store = backend.store
    payloads_uri = join_uri(run_uri, "payloads.json")
    schedule = poll_schedule(request, backend.default_poll_seconds, backend.history_event_budget)
    plans: list[CandidatePlan] = []
    jobs: list[LoadTestJob] = []
    for index, ((spec, environment), share) in enumerate(zip(request.variants(), budget, strict=True), start=1):
        candidate_id = candidate_id_for(index, spec.instance_type, environment)
        results_uri = join_uri(run_uri, "candidates", candidate_id)
        base_name = resource_name(event.run_id, index)
        endpoint_name = spec.endpoint_name or base_name  # an existing endpoint keeps its own name
        job = LoadTestJob(
            run_id=event.run_id,
            candidate_id=candidate_id,
            instance_type=spec.instance_type,
            endpoint_name=endpoint_name,
            region=request.region,
            content_type=request.payloads.content_type,
            payloads_uri=payloads_uri,
            sla=request.sla,
            max_error_rate=request.max_error_rate,
            load=_load_for(spec, request),
            max_seconds=request.limits.max_seconds_per_candidate,
            results_uri=results_uri,
            serverless_max_concurrency=spec.serverless.max_concurrency if spec.serverless else None,
            knee=request.knee,
        )
        jobs.append(job)
        job_uri = join_uri(results_uri, "job.json")
        tags = {**request.tags, RUN_ID_TAG: event.run_id, CANDIDATE_TAG: candidate_id}
        plans.append(
            CandidatePlan(
                run_id=event.run_id,
                candidate_id=candidate_id,
                instance_type=spec.instance_type,
                environment=environment,
                model_name=base_name,
                endpoint_config_name=base_name,
                endpoint_name=endpoint_name,
                container={} if spec.endpoint_name else backend.containers.primary_container(request, environment),
                production_variants=production_variants_for(
                    spec.instance_type, base_name, spec.serverless.serverless_config() if spec.serverless else None
                ),
                network_isolation=isinstance(request.model, ContainerModelSource | ModelPackageSource)
                and request.model.network_isolation,
                tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                job_uri=job_uri,
                results_uri=results_uri,
                poll_seconds=schedule.poll_seconds,
                max_polls=schedule.max_polls,
                load_test_timeout_seconds=request.limits.max_seconds_per_candidate + TASK_START_MARGIN_SECONDS,
                existing_endpoint=spec.endpoint_name is not None,
                max_delete_attempts=schedule.max_delete_attempts,
                metrics_delay_seconds=backend.metrics_delay_seconds,
                skip_reason=share.skip_reason,
                worst_usd=round(share.worst_usd, 4),
            )
        )
    plan = RunPlan(
        run_id=event.run_id,
        run_uri=run_uri,
        max_concurrency=min(request.limits.max_parallel_candidates, backend.max_parallel_candidates or 40),
        candidates=plans,
    )
    _check_plan_size(plan)
    payloads = _payloads_document(request, store)
    put_json(join_uri(run_uri, "request.json"), request.model_dump(mode="json"), store)
    put_json(payloads_uri, payloads, store)
    for job, candidate in zip(jobs, plans, strict=True):
        put_json(candidate.job_uri, job.model_dump(mode="json"), store)
    return plan


def _load_for(spec: CandidateSpec, request: RightsizingRequest) -> LoadSettings:
    """A serverless endpoint throttles beyond its MaxConcurrency: more closed-loop users than that would measure
    throttling, not the endpoint, so they are capped there."""
    if spec.serverless is None or request.load.max_users <= spec.serverless.max_concurrency:
        return request.load
    return request.load.model_copy(update={"max_users": spec.serverless.max_concurrency})


def _check_plan_size(plan: RunPlan) -> None:
    """The plan is the state the Map starts from: Step Functions fails a run whose state passes 256 KB."""
    size = len(plan.model_dump_json())
    if size > MAX_PLAN_BYTES:
        raise InvalidRequest(
            "candidates",
            f"the plan of {len(plan.candidates)} benchmarks is {size // 1024} KB, above the "
            f"{MAX_PLAN_BYTES // 1024} KB kept under Step Functions' 256 KB per state: shorten the tags and "
            "environment values, or split the candidates over several runs",
        )


def _payloads_document(request: RightsizingRequest, store: ArtifactStore) -> dict[str, Any]:
    """Every body as bytes (files in S3 through the store, local ones from this machine in local mode), checked
    against the content type, base64 in ``payloads.json``: the jobs name it by URI, so no body is ever inside a
    state or a container override."""

    def read(name: str) -> bytes:
        if not name.startswith("s3://"):
            return Path(name).read_bytes()  # local mode: the request's validation checked its size
        # Sized before it is read: an object of gigabytes must not exhaust the function's memory.
        limit = MAX_ARCHIVE_BYTES if name == request.payloads.archive else MAX_PAYLOAD_BYTES
        return store.get_bytes(name, max_bytes=limit)

    return payloads_document(collect_bodies(request.payloads, read), request.payloads.content_type)


def _check_budget(request: RightsizingRequest, backend: Backend) -> list[BudgetShare]:
    """Each candidate's worst-case endpoint cost (the dry run's figures: the whole endpoint wait, the slowest task
    start, the whole test bound, the slowest deletion), committed in request order; those that would pass
    ``budget_usd`` are skipped (see ``allocate_budget``). A run of which nothing fits is refused."""
    estimate = estimate_run(
        request,
        backend.prices,
        default_poll_seconds=backend.default_poll_seconds,
        history_event_budget=backend.history_event_budget,
        metrics_delay_seconds=backend.metrics_delay_seconds,
        max_parallel_candidates=backend.max_parallel_candidates,
        strict_prices=request.budget_usd is not None,
    )
    shares = allocate_budget(estimate, request.budget_usd)
    if request.budget_usd is not None and all(share.skip_reason for share in shares):
        cheapest = min(share.worst_usd for share in shares)
        raise BudgetExceeded(
            f"no candidate fits budget_usd ${request.budget_usd:.2f}: the cheapest could cost up to ${cheapest:.2f} "
            "(endpoint wait + task start + test bound + deletion); raise the budget or lower "
            "limits.max_endpoint_wait_seconds and limits.max_seconds_per_candidate"
        )
    return shares


def load_plan_request(run_uri: str, store: ArtifactStore) -> RightsizingRequest:
    """The validated request the plan step stored for this run."""
    return RightsizingRequest.model_validate(get_json(join_uri(run_uri, "request.json"), store))
