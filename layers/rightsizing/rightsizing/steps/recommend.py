"""Recommend step (last state): price every candidate, choose, write result.json and results.csv.

Returns a small summary (it becomes the execution output and the EventBridge event detail); the full result
lives in the store.
"""

from __future__ import annotations

import csv
import io
import json

from pydantic import BaseModel, ConfigDict

from rightsizing.backends import Backend
from rightsizing.exceptions import RightsizingError
from rightsizing.models.result import CandidateOutcome, CandidateResult, RunResult, StepFailure
from rightsizing.pricing.quote import PriceQuote
from rightsizing.recommender import recommend
from rightsizing.steps.plan import load_plan_request
from rightsizing.store import join_uri, put_json, store_for


class RecommendInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    run_id: str
    run_uri: str
    outcomes: list[CandidateOutcome]


class RunSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str
    result_uri: str
    csv_uri: str
    recommended: bool
    instance_type: str | None
    instance_count: int | None
    usd_per_hour: float | None
    message: str


def recommend_run(event: RecommendInput, backend: Backend) -> RunSummary:
    request = load_plan_request(event.run_uri)
    results = [candidate_result(o) for o in event.outcomes]
    prices: dict[str, PriceQuote | str] = {}
    for result in results:
        try:
            prices[result.candidate_id] = backend.prices.hourly_price(result.instance_type, request.region)
        except RightsizingError as e:
            prices[result.candidate_id] = str(e)

    target = request.traffic.max_rps or request.traffic.min_rps
    choice, why_not = recommend(results, prices, target)
    notes = []
    if backend.mode == "local":
        notes.append("Local mode: instance types are local profiles on this machine with notional prices, not AWS.")
    run = RunResult(
        run_id=event.run_id,
        mode=backend.mode,
        region=request.region,
        target_rps=target,
        sla_percentile=request.sla.percentile,
        sla_ms=request.sla.milliseconds,
        max_error_rate=request.max_error_rate,
        candidates=results,
        recommendation=choice,
        no_recommendation_reason=why_not,
        notes=notes,
    )
    store = store_for(event.run_uri)
    result_uri = join_uri(event.run_uri, "result.json")
    csv_uri = join_uri(event.run_uri, "results.csv")
    run.artifacts = {"result": result_uri, "csv": csv_uri}
    put_json(result_uri, run.model_dump(mode="json"), store)
    store.put_bytes(csv_uri, results_csv(run, prices).encode(), "text/csv")
    return RunSummary(
        run_id=event.run_id,
        result_uri=result_uri,
        csv_uri=csv_uri,
        recommended=choice is not None,
        instance_type=choice.instance_type if choice else None,
        instance_count=choice.instance_count if choice else None,
        usd_per_hour=choice.usd_per_hour if choice else None,
        message=choice.rationale if choice else (why_not or "no recommendation"),
    )


def candidate_result(outcome: CandidateOutcome) -> CandidateResult:
    """A Map iteration's output as a CandidateResult; caught errors become status 'failed' with their reason."""
    if isinstance(outcome.outcome, CandidateResult):
        return outcome.outcome
    plan = outcome.candidate
    return CandidateResult(
        candidate_id=plan["candidate_id"],
        instance_type=plan["instance_type"],
        environment=plan.get("environment", {}),
        status="failed",
        failure_reason=failure_reason(outcome.outcome),
    )


def failure_reason(failure: StepFailure) -> str:
    """``Error: message``; Lambda causes are JSON with errorMessage, service causes plain text."""
    cause = failure.Cause or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            cause = str(parsed.get("errorMessage") or parsed.get("Message") or cause)
    except ValueError:
        pass
    details = (failure.model_extra or {}).get("Details")
    if isinstance(details, dict) and details.get("FailureReason"):
        cause = f"{cause} ({details['FailureReason']})"  # e.g. DescribeEndpoint's reason for status Failed
    return f"{failure.Error}: {cause}" if cause else failure.Error


CSV_COLUMNS = [
    "candidate_id",
    "instance_type",
    "environment",
    "status",
    "sustainable_rps",
    "saturation_rps",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "error_rate",
    "requests",
    "test_seconds",
    "usd_per_hour_per_instance",
    "instances_for_target",
    "usd_per_hour_for_target",
    "recommended",
    "failure_reason",
]


def results_csv(run: RunResult, prices: dict[str, PriceQuote | str]) -> str:
    """One row per candidate and environment, like Inference Recommender's results table."""
    sized = {run.recommendation.candidate_id: run.recommendation.instance_count} if run.recommendation else {}
    if run.recommendation:
        sized.update({a.candidate_id: a.instance_count for a in run.recommendation.alternatives if a.instance_count})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for c in run.candidates:
        price = prices.get(c.candidate_id)
        unit = price.usd_per_hour if isinstance(price, PriceQuote) else None
        count = sized.get(c.candidate_id)
        writer.writerow(
            {
                "candidate_id": c.candidate_id,
                "instance_type": c.instance_type,
                "environment": ";".join(f"{k}={v}" for k, v in sorted(c.environment.items())),
                "status": c.status,
                "sustainable_rps": c.sustainable_rps,
                "saturation_rps": c.saturation_rps,
                "p50_ms": c.latency_ms.p50 if c.latency_ms else None,
                "p90_ms": c.latency_ms.p90 if c.latency_ms else None,
                "p95_ms": c.latency_ms.p95 if c.latency_ms else None,
                "p99_ms": c.latency_ms.p99 if c.latency_ms else None,
                "error_rate": c.error_rate,
                "requests": c.requests,
                "test_seconds": c.test_seconds,
                "usd_per_hour_per_instance": unit,
                "instances_for_target": count,
                "usd_per_hour_for_target": round(count * unit, 6) if count and unit is not None else None,
                "recommended": bool(run.recommendation and run.recommendation.candidate_id == c.candidate_id),
                "failure_reason": c.failure_reason,
            }
        )
    return buffer.getvalue()
