"""Recommend step (last state): price every candidate, choose, write result.json, results.csv and the report,
record the run in its model's history and compare it with the model's previous run.

Returns a small summary (the execution output) and the events the state machine puts on EventBridge
(``Rightsizing Completed``, and ``Recommendation Changed`` when the answer moved); the full result lives in the store.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.estimate import estimate_run
from rightsizing.exceptions import RightsizingError
from rightsizing.history import detect_change, model_key, run_record
from rightsizing.measured_cost import price_run
from rightsizing.models.estimate import RunEstimate
from rightsizing.models.events import PutEventsEntry
from rightsizing.models.history import RunRecord
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import RightsizingRequest
from rightsizing.models.result import CandidateOutcome, CandidateResult, ProbeRecord, RunResult, StepFailure
from rightsizing.payload_bodies import bodies_from_document
from rightsizing.ports import Backend
from rightsizing.recommender import recommend
from rightsizing.report.publish import REPORT_FILE, SNIPPET_FILE, load_traces, publish_report
from rightsizing.report.trials import TRIAL_CSV_COLUMNS, trial_csv_cells
from rightsizing.run_events import changed_entry, completed_entry
from rightsizing.steps.failures import describe_failure
from rightsizing.steps.knee import add_knee
from rightsizing.steps.plan import load_plan_request
from rightsizing.store import ArtifactStore, get_json, join_uri, put_json


class RecommendInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    run_id: str
    run_uri: str
    outcomes: list[CandidateOutcome]


class RunSummary(BaseModel):
    """The execution output.

    The state machine itself writes ``event_error`` when the events could not be sent (the run still succeeds).
    """

    model_config = ConfigDict(extra="forbid")
    run_id: str
    result_uri: str | None
    csv_uri: str | None
    recommended: bool
    instance_type: str | None
    instance_count: int | None
    usd_per_hour: float | None
    message: str
    report_uri: str | None = None
    measured_cost_usd: float | None = Field(None, description="What the run cost (result.json `cost`).")
    estimated_cost_usd: float | None = Field(None, description="The dry run's typical estimate of that cost.")
    cost_notional: bool = Field(False, description="Local mode: notional prices, not an AWS bill.")
    event_error: StepFailure | None = Field(None, description="Why the run's events were not sent.")
    model_key: str | None = Field(None, description="The history the run joined.")
    previous_run_id: str | None = Field(None, description="The model's previous recorded run.")


class RecommendOutput(BaseModel):
    """What the Recommend state returns: the summary, and the entries PublishResult puts on EventBridge."""

    model_config = ConfigDict(extra="forbid")
    summary: RunSummary
    events: list[PutEventsEntry]


def recommend_run(event: RecommendInput, backend: Backend) -> RecommendOutput:
    request = load_plan_request(event.run_uri, backend.store)
    results = [candidate_result(o) for o in event.outcomes]
    prices = price_candidates(results, backend, request.region)
    bytes_per_request = mean_payload_bytes(event.run_uri, backend.store)
    choice, why_not = recommend(
        results,
        prices,
        request.traffic,
        request.sizing,
        percentile=request.sla.percentile,
        bytes_per_request=bytes_per_request,
    )
    notes = []
    if backend.mode == "local":
        notes.append("Local mode: instance types are local profiles on this machine with notional prices, not AWS.")
    estimate = run_estimate(request, backend)
    cost_notes = []
    if backend.mode == "local":
        cost_notes.append(
            "the estimate assumes AWS step times (endpoints take minutes to create); local ones start in seconds"
        )
    if request.load.worker_placement == "tasks":
        cost_notes.append("the load generator's worker tasks (worker_placement 'tasks') are not in the measured cost")
    run = RunResult(
        run_id=event.run_id,
        mode=backend.mode,
        region=request.region,
        traffic=request.traffic,
        sla=request.sla,
        max_error_rate=request.max_error_rate,
        candidates=results,
        recommendation=choice,
        no_recommendation_reason=why_not,
        notes=notes,
        sizing=request.sizing,
        prices={cid: quote for cid, quote in prices.items() if isinstance(quote, PriceQuote)},
        price_errors={cid: why for cid, why in prices.items() if isinstance(why, str)},
        cost=price_run(
            results,
            prices,
            notional=backend.mode == "local",
            estimated_usd=estimate.total_usd if estimate and estimate.complete else None,
            notes=cost_notes,
        ),
    )
    traces = load_traces(run, event.run_uri, backend.store, run.notes)
    add_knee(run, request, traces, prices, bytes_per_request)
    artifacts = write_outputs(run, event.run_uri, prices, backend.store, traces)
    typical = round(estimate.total_usd.typical, 4) if estimate and estimate.complete else None
    record = run_record(run, request, datetime.now(UTC), typical)
    previous = record_run(record, backend)
    threshold = request.history.change_threshold_percent or backend.change_threshold_percent
    change = detect_change(previous, record, threshold)
    message = choice.rationale if choice else (why_not or "no recommendation")
    events = [completed_entry(record, message, previous, change is not None, backend.event_bus_name)]
    if change is not None and previous is not None:
        events.append(changed_entry(record, previous, change, backend.event_bus_name))
    summary = RunSummary(
        run_id=event.run_id,
        result_uri=artifacts["result"],
        csv_uri=artifacts["csv"],
        recommended=choice is not None,
        instance_type=choice.instance_type if choice else None,
        instance_count=choice.instance_count if choice else None,
        usd_per_hour=choice.usd_per_hour if choice else None,
        message=message,
        report_uri=artifacts["report"],
        measured_cost_usd=run.cost.measured_usd if run.cost else None,
        estimated_cost_usd=typical,
        cost_notional=backend.mode == "local",
        model_key=model_key(request),
        previous_run_id=previous.run_id if previous else None,
    )
    return RecommendOutput(summary=summary, events=events)


def mean_payload_bytes(run_uri: str, store: ArtifactStore) -> float:
    """Mean size of the bodies the load test sent (serverless bills data processed per GB); 0 if unreadable."""
    try:
        bodies = bodies_from_document(get_json(join_uri(run_uri, "payloads.json"), store))
    except (OSError, ValueError, RightsizingError):
        return 0.0
    return sum(len(body) for body in bodies) / len(bodies)


def record_run(record: RunRecord, backend: Backend) -> RunRecord | None:
    """Record the run in its model's history; the model's previous run (None: the first, or no history kept).

    A retried step finds its own earlier record: the previous run is the newest one of another run id."""
    if backend.history is None:
        return None
    previous = next((r for r in backend.history.latest(record.model_key, 5) if r.run_id != record.run_id), None)
    backend.history.put(record)
    return previous


def run_estimate(request: RightsizingRequest, backend: Backend) -> RunEstimate | None:
    """The dry run's estimate of this run's cost, with this deployment's settings (None: it cannot be made)."""
    try:
        return estimate_run(
            request,
            backend.prices,
            default_poll_seconds=backend.default_poll_seconds,
            history_event_budget=backend.history_event_budget,
            metrics_delay_seconds=backend.metrics_delay_seconds,
            max_parallel_candidates=backend.max_parallel_candidates,
        )
    except RightsizingError:
        return None


def price_candidates(results: list[CandidateResult], backend: Backend, region: str) -> dict[str, PriceQuote | str]:
    """Candidate id -> on-demand quote, or why it has none (an unpriced candidate is explained, not fatal)."""
    prices: dict[str, PriceQuote | str] = {}
    for result in results:
        try:
            prices[result.candidate_id] = backend.prices.hourly_price(result.instance_type, region)
        except RightsizingError as e:
            prices[result.candidate_id] = str(e)
    return prices


def write_outputs(
    run: RunResult,
    run_uri: str,
    prices: dict[str, PriceQuote | str],
    store: ArtifactStore,
    traces: dict[str, list[ProbeRecord]] | None = None,
) -> dict[str, str]:
    """result.json and results.csv, then the HTML report and the CloudFormation snippet beside them.

    The traces are read first (unless given) so that one that cannot be read is noted in result.json too."""
    if traces is None:
        traces = load_traces(run, run_uri, store, run.notes)
    run.artifacts = {
        "result": join_uri(run_uri, "result.json"),
        "csv": join_uri(run_uri, "results.csv"),
        "report": join_uri(run_uri, REPORT_FILE),
        "snippet": join_uri(run_uri, SNIPPET_FILE),
    }
    put_json(run.artifacts["result"], run.model_dump(mode="json"), store)
    store.put_bytes(run.artifacts["csv"], results_csv(run, prices).encode(), "text/csv")
    publish_report(run, run_uri, store, traces)
    return run.artifacts


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
        failure_reason=describe_failure(outcome.outcome),
    )


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
    "usd_per_hour_on_demand_for_target",
    "rank",
    "verdict",
    "price_source",
    "measured_endpoint_seconds",
    "measured_task_seconds",
    "measured_cost_usd",
    "cold_start_ms",
    *TRIAL_CSV_COLUMNS,
]


def results_csv(run: RunResult, prices: dict[str, PriceQuote | str]) -> str:
    """One row per candidate and environment, like Inference Recommender's results table.

    ``usd_per_hour_for_target`` is what the recommender ranked by (Savings Plan discount applied, if any).
    """
    rec = run.recommendation
    ranked = {a.candidate_id: a for a in rec.alternatives} if rec else {}
    spent = {c.candidate_id: c for c in run.cost.candidates} if run.cost else {}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for c in run.candidates:
        price = prices.get(c.candidate_id)
        per_use = isinstance(price, PriceQuote) and price.usd_per_gb_second is not None  # serverless: no unit price
        unit = price.usd_per_hour if isinstance(price, PriceQuote) and not per_use else None
        chosen = bool(rec and rec.candidate_id == c.candidate_id)
        lost = ranked.get(c.candidate_id)
        serverless = rec.serverless if rec and chosen else lost.serverless if lost else None
        count = rec.instance_count if rec and chosen else lost.instance_count if lost else None
        fleet = rec.usd_per_hour if rec and chosen else lost.usd_per_hour if lost else None
        lat = c.latency_ms
        cost = spent.get(c.candidate_id)
        writer.writerow(
            {
                "candidate_id": c.candidate_id,
                "instance_type": c.instance_type,
                "environment": ";".join(f"{k}={v}" for k, v in sorted(c.environment.items())),
                "status": c.status,
                "sustainable_rps": c.sustainable_rps,
                "saturation_rps": c.saturation_rps,
                "p50_ms": lat.p50 if lat else None,
                "p90_ms": lat.p90 if lat else None,
                "p95_ms": lat.p95 if lat else None,
                "p99_ms": lat.p99 if lat else None,
                "error_rate": c.error_rate,
                "requests": c.requests,
                "test_seconds": c.test_seconds,
                "usd_per_hour_per_instance": unit,
                "instances_for_target": count,
                "usd_per_hour_for_target": fleet,
                "recommended": chosen,
                "failure_reason": c.failure_reason,
                "usd_per_hour_on_demand_for_target": round(count * unit, 6)
                if count and unit is not None
                else round(serverless.compute_usd_per_hour + serverless.data_usd_per_hour, 6)
                if serverless
                else None,
                "rank": 1 if chosen else lost.rank if lost else None,
                "verdict": "recommended" if chosen else lost.reason if lost else "",
                "price_source": price.source if isinstance(price, PriceQuote) else price,
                "measured_endpoint_seconds": cost.endpoint_seconds if cost else None,
                "measured_task_seconds": cost.task_seconds if cost else None,
                "measured_cost_usd": cost.usd if cost else None,
                "cold_start_ms": c.cold_start.first_ms if c.cold_start else None,
                **trial_csv_cells(c),
            }
        )
    return buffer.getvalue()
