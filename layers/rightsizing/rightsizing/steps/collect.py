"""Collect step: turn a Map iteration's outcome into a CandidateResult: the load generator's result and the
endpoint-side metrics, or the caught failure reduced to a short reason (``failure``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.exceptions import LoadTestFailed, StoreError
from rightsizing.measured_cost import candidate_usage
from rightsizing.models.common import CandidateStatus
from rightsizing.models.cost import CandidateUsage, UsageRecord
from rightsizing.models.plan import CandidatePlan
from rightsizing.models.result import LOAD_TEST_FAILURE_FILE, CandidateResult, LoadTestResult, StepFailure
from rightsizing.ports import Backend
from rightsizing.steps.failures import describe_failure
from rightsizing.store import get_json, join_uri, put_json


class CollectInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    candidate: CandidatePlan
    failure: StepFailure | None = None
    usage: UsageRecord | None = Field(None, description="The iteration's timestamps and counters (measured cost).")


def collect_metrics(event: CollectInput, backend: Backend) -> CandidateResult:
    candidate = event.candidate
    usage = candidate_usage(candidate, event.usage, event.failure) if event.usage is not None else None
    if event.failure is not None:
        return failed_result(candidate, event.failure, usage, generator_said(event.failure, candidate, backend))
    result_uri = join_uri(candidate.results_uri, "result.json")
    store = backend.store
    if not store.exists(result_uri):
        raise LoadTestFailed(
            f"the load test of {candidate.candidate_id} wrote no result at {result_uri}; see the load-test task logs"
        )
    load = LoadTestResult.model_validate(get_json(result_uri, store))
    window = load_window(load)
    server = backend.metrics.collect(candidate, *window) if window else {}
    result = CandidateResult(
        candidate_id=candidate.candidate_id,
        instance_type=candidate.instance_type,
        environment=candidate.environment,
        status=_status(load),
        failure_reason=_unmeasured(load),
        sustainable_rps=load.sustainable_rps,
        saturation_rps=load.saturation_rps,
        latency_ms=load.latency_at_sustainable,
        error_rate=load.error_rate_at_sustainable,
        requests=load.requests,
        test_seconds=load.test_seconds,
        generator_limited=load.generator_limited,
        stop_reason=load.stop_reason,
        server_metrics=server,
        artifacts={**load.artifacts, "result": result_uri},
        cold_start=load.cold_start,
        usage=usage,
        trials=load.trials,
    )
    put_json(join_uri(candidate.results_uri, "candidate.json"), result.model_dump(mode="json"), store)
    return result


def _status(load: LoadTestResult) -> CandidateStatus:
    """A test that ended before finding the capacity (the generator's limit, or time) certified a floor
    (lower_bound), or nothing at all (failed): never a capacity of 0, which would say the endpoint serves nothing
    when the test could not push it far enough. ``generator_limited`` alone: results written before 2.1."""
    floor = load.lower_bound or load.generator_limited
    if floor and load.sustainable_rps > 0:
        return "lower_bound"
    return "failed" if floor else "succeeded"


def _unmeasured(load: LoadTestResult) -> str | None:
    if _status(load) != "failed":
        return None
    cause = "the load generator was the limit" if load.generator_limited else "the test ended"  # out of time
    return f"not measured: {cause} before any load was certified within the SLA. {load.stop_reason}"


def load_window(load: LoadTestResult) -> tuple[float, float] | None:
    """Epoch seconds of the test, when the generator recorded them (CloudWatch needs a window)."""
    if load.started_epoch is None:
        return None
    return load.started_epoch, load.started_epoch + load.test_seconds


def failed_result(
    candidate: CandidatePlan,
    failure: StepFailure,
    usage: CandidateUsage | None = None,
    generator_message: str | None = None,
) -> CandidateResult:
    """A failed candidate with a short reason: what the Map collects stays small (256 KB state limit)."""
    return CandidateResult(
        candidate_id=candidate.candidate_id,
        instance_type=candidate.instance_type,
        environment=candidate.environment,
        status="failed",
        failure_reason=describe_failure(failure, generator_message),
        usage=usage,
    )


def generator_said(failure: StepFailure, candidate: CandidatePlan, backend: Backend) -> str | None:
    """Why the load generator failed, in its own words (``error.json``), when its task exited non-zero: the task's
    description only has the exit code. None when it wrote nothing (killed, or it could not read its job)."""
    if failure.Error != "LoadTestFailed":
        return None
    uri = join_uri(candidate.results_uri, LOAD_TEST_FAILURE_FILE)
    try:
        if not backend.store.exists(uri):
            return None
        said = get_json(uri, backend.store)
    except (StoreError, ValueError):
        return None  # the reason still has the exit code and where the log is
    message = said.get("message") if isinstance(said, dict) else None
    return str(message) if message else None
