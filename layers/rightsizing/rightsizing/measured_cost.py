"""What a run actually cost: its timestamps and counts, priced. Pure arithmetic, no AWS call.

The Map iteration records ``$$.State.EnteredTime`` of CreateEndpoint (once it succeeded) and of the DeleteEndpoint
attempt SageMaker accepted, and keeps the load-test task's description that ``ecs:runTask.sync`` returns (epoch
milliseconds, PascalCase, as Step Functions writes it). ``candidate_usage`` (collect step) turns one iteration's
record into seconds and counts; ``price_run`` (Recommend step) prices them with the recommender's price source for
the instances and the estimate's rates for Fargate, Step Functions and Lambda, so the measured figure and the dry
run's estimate are comparable line by line.

What is measured and what is not:

- endpoint: from CreateEndpoint's entry (a Retry of the create call counts from the first attempt) to the accepted
  DeleteEndpoint; the minute or two SageMaker then takes to release the instances is not in it. An existing endpoint
  (not created by the run) costs nothing here; a skipped candidate created nothing.
- load test: the task's PullStartedAt to StoppedAt (Fargate bills from the image pull, per second, 1-minute
  minimum). Worker tasks (``load.worker_placement: tasks``) start outside the state machine and are not counted.
- Step Functions: transitions counted from each iteration's path (polls, refused deletes, failure states); Retry
  attempts are not counted. Lambda: invocations counted, their duration taken as the estimate's typical allowance.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from rightsizing.estimate import (
    FARGATE_MINIMUM_SECONDS,
    FARGATE_USD_PER_GB_HOUR,
    FARGATE_USD_PER_VCPU_HOUR,
    LAMBDA_GB,
    LAMBDA_STEP_SECONDS,
    LAMBDA_USD_PER_GB_SECOND,
    LAMBDA_USD_PER_REQUEST,
    SFN_USD_PER_TRANSITION,
)
from rightsizing.models.cost import CandidateCost, CandidateUsage, CostItem, RunCost, UsageRecord
from rightsizing.models.estimate import Figures, LoadTestTaskSize
from rightsizing.models.plan import CandidatePlan
from rightsizing.models.price import PriceQuote
from rightsizing.models.result import CandidateResult, StepFailure

ENDPOINT_INSTANCE_COUNT = 1  # InitialInstanceCount of an instance candidate (models/plan.py production_variants_for)
# PlanRun, BenchmarkCandidates, Recommend, PublishResult, RunFinished; Lambda: Plan and Recommend.
RUN_TRANSITIONS = 5
RUN_LAMBDA_INVOCATIONS = 2
SKIPPED_TRANSITIONS = 4  # StartCandidate, IsWithinBudget, SkipCandidate, CandidateDone
LAMBDA_ASSUMED_SECONDS = LAMBDA_STEP_SECONDS[1]  # the estimate's typical allowance: durations are not measured
SERVICE_PRICES = (
    f"AWS public prices, us-east-1 (2026): Fargate Linux x86 ${FARGATE_USD_PER_VCPU_HOUR}/vCPU-hour + "
    f"${FARGATE_USD_PER_GB_HOUR}/GB-hour (per second, 1-minute minimum); Step Functions Standard "
    f"${SFN_USD_PER_TRANSITION * 1000:.3f} per 1,000 transitions; Lambda arm64"
)
NOTIONAL_SERVICE_PRICES = f"notional: the local stand-ins priced as AWS would price them ({SERVICE_PRICES})"
# Failures caught after the endpoint came up and before or by the load test (the iteration reached RunLoadTest).
_LOAD_TEST_ERRORS = ("LoadTestFailed", "LoadTestNotStarted", "States.Timeout")
_EXTRA_PASS_STATES = ("EndpointFailed", "EndpointTimeout", "LoadTestFailed", "LoadTestNotStarted")


def epoch_seconds(value: object) -> float | None:
    """A timestamp as Step Functions writes it: ISO 8601 (``$$.State.EnteredTime``), or epoch milliseconds (ECS's
    task description); epoch seconds (the ECS API's own JSON) are accepted too. None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000 if value > 1e11 else float(value)  # 1e11 s is the year 5138
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _field(task: dict[str, Any], name: str) -> Any:
    """Step Functions returns ECS's output in PascalCase; the API's own casing is camelCase."""
    return task.get(name, task.get(name[0].lower() + name[1:]))


def _stopped_task(record: UsageRecord | None, failure: StepFailure | None) -> dict[str, Any] | None:
    """The load-test task's description: RunLoadTest's output, or a failed task's Cause (the same document)."""
    if record is not None and record.times.load_test:
        return record.times.load_test
    if failure is not None and failure.Error == "LoadTestFailed" and failure.Cause:
        try:
            task = json.loads(failure.Cause)
        except ValueError:
            return None
        if isinstance(task, dict) and _field(task, "TaskArn"):  # not a Lambda error of the same name
            return task
    return None


def _task_usage(
    task: dict[str, Any] | None, failure: StepFailure | None, plan: CandidatePlan, notes: list[str]
) -> tuple[float, float, float]:
    """(seconds, vCPU, GB) of the load-test task."""
    default = LoadTestTaskSize()
    if task is None:
        if failure is not None and failure.Error == "States.Timeout":
            notes.append(
                f"load test stopped at its {plan.load_test_timeout_seconds} s timeout: task counted for that long at "
                f"the stack's default size ({default.vcpu:g} vCPU, {default.gb:g} GB)"
            )
            return float(plan.load_test_timeout_seconds), default.vcpu, default.gb
        return 0.0, 0.0, 0.0
    start = epoch_seconds(_field(task, "PullStartedAt"))
    end = epoch_seconds(_field(task, "StoppedAt")) or epoch_seconds(_field(task, "ExecutionStoppedAt"))
    if start is None or end is None:
        notes.append("the load-test task never pulled its image (or has no stop time): Fargate bills nothing for it")
        return 0.0, 0.0, 0.0
    cpu, memory = _field(task, "Cpu"), _field(task, "Memory")
    vcpu = float(cpu) / 1024 if cpu else default.vcpu
    gb = float(memory) / 1024 if memory else default.gb
    return max(0.0, end - start), vcpu, gb


def _endpoint_usage(plan: CandidatePlan, record: UsageRecord | None, notes: list[str]) -> tuple[float, int, bool]:
    """(seconds, instances, deleted) of the endpoint the run created."""
    if plan.existing_endpoint:
        notes.append("existing endpoint: not created by the run, its instances are not counted")
        return 0.0, 0, True
    if any("ServerlessConfig" in variant for variant in plan.production_variants):
        # Billed per use (its requests' compute and data), not per endpoint second: no instance to count here.
        notes.append("serverless endpoint: billed per request's compute, not per endpoint second; not counted")
        return 0.0, 0, True
    created = epoch_seconds(record.times.endpoint_created.at) if record and record.times.endpoint_created else None
    if record is None or created is None:
        return 0.0, 0, True  # CreateEndpoint never succeeded: no endpoint, no instance billed
    deleted = epoch_seconds(record.times.endpoint_deleted.at) if record.times.endpoint_deleted else None
    if deleted is not None:
        return max(0.0, deleted - created), ENDPOINT_INSTANCE_COUNT, True
    until = epoch_seconds(record.collected_at)
    if record.delete_attempts >= plan.max_delete_attempts:
        notes.append(
            f"endpoint not deleted after {record.delete_attempts} attempts (handed to the sweeper): still billing, "
            "counted until the failure was recorded (a floor)"
        )
        return max(0.0, (until or created) - created), ENDPOINT_INSTANCE_COUNT, False
    notes.append("endpoint found already gone at deletion: counted until the candidate was collected (an upper bound)")
    return max(0.0, (until or created) - created), ENDPOINT_INSTANCE_COUNT, True


def _transitions(
    plan: CandidatePlan, record: UsageRecord | None, failure: StepFailure | None, load_test_reached: bool
) -> int:
    """The iteration's state transitions, from its path (estimate.py lists the states of each)."""
    polls = record.polls if record else 0
    refused = record.delete_attempts if record else 0
    count = 3  # StartCandidate, IsWithinBudget, IsExistingEndpoint
    if not plan.existing_endpoint:
        count += 3  # CreateModel, CreateEndpointConfig, CreateEndpoint (a failure there is counted as all three)
    if polls:
        count += 4 * polls - 1  # DescribeEndpoint, CountPoll, IsEndpointReady, WaitForEndpoint but after the last
    count += load_test_reached  # RunLoadTest
    count += failure is not None and failure.Error in _EXTRA_PASS_STATES  # the Pass state naming the failure
    count += 1  # Cleanup
    if not plan.existing_endpoint:
        # DeleteEndpoint; each refused attempt: IsEndpointGone, CountDeleteAttempt, CanRetryDelete, Wait, retry
        count += 1 + 5 * refused + 2  # and DeleteEndpointConfig, DeleteModel
    count += 1  # HasOutcome
    count += 1 if failure is not None else 2  # RecordFailure, or WaitForMetrics and CollectMetrics
    return count + 1  # CandidateDone


def candidate_usage(plan: CandidatePlan, record: UsageRecord | None, failure: StepFailure | None) -> CandidateUsage:
    """One Map iteration's record as seconds and counts (CollectMetrics and RecordFailure call this)."""
    notes: list[str] = []
    endpoint_seconds, instances, deleted = _endpoint_usage(plan, record, notes)
    task = _stopped_task(record, failure)
    task_seconds, vcpu, gb = _task_usage(task, failure, plan, notes)
    reached = task is not None or failure is None or failure.Error in _LOAD_TEST_ERRORS
    return CandidateUsage(
        endpoint_seconds=round(endpoint_seconds, 3),
        endpoint_instances=instances,
        endpoint_deleted=deleted,
        task_seconds=round(task_seconds, 3),
        task_vcpu=vcpu,
        task_gb=gb,
        transitions=_transitions(plan, record, failure, reached),
        lambda_invocations=1,
        notes=notes,
    )


def fargate_billed_seconds(task_seconds: float) -> float:
    """Per second, rounded up, with a 1-minute minimum; nothing when no task ran."""
    return float(max(math.ceil(task_seconds), FARGATE_MINIMUM_SECONDS)) if task_seconds > 0 else 0.0


def _candidate_cost(result: CandidateResult, price: PriceQuote | str | None) -> CandidateCost:
    usage = result.usage
    note: str | None
    if usage is None:
        note = "skipped: nothing was created" if result.status == "skipped" else "usage not recorded"
        usage = CandidateUsage()
    else:
        note = "; ".join(usage.notes) or None
    unit = price.usd_per_hour if isinstance(price, PriceQuote) else None
    endpoint_hours = usage.endpoint_seconds / 3600 * usage.endpoint_instances
    endpoint_usd = 0.0 if endpoint_hours == 0 else endpoint_hours * unit if unit is not None else None
    billed = fargate_billed_seconds(usage.task_seconds)
    task_usd = billed / 3600 * (usage.task_vcpu * FARGATE_USD_PER_VCPU_HOUR + usage.task_gb * FARGATE_USD_PER_GB_HOUR)
    return CandidateCost(
        candidate_id=result.candidate_id,
        instance_type=result.instance_type,
        status=result.status,
        endpoint_seconds=usage.endpoint_seconds,
        instance_count=usage.endpoint_instances,
        usd_per_hour=unit if endpoint_hours else None,
        endpoint_usd=round(endpoint_usd, 6) if endpoint_usd is not None else None,
        task_seconds=billed,
        load_test_usd=round(task_usd, 6),
        usd=round(endpoint_usd + task_usd, 6) if endpoint_usd is not None else None,
        note=note,
    )


def price_run(
    results: list[CandidateResult],
    prices: dict[str, PriceQuote | str],
    *,
    notional: bool,
    estimated_usd: Figures | None = None,
    notes: list[str] | None = None,
) -> RunCost:
    """The run's measured cost: per candidate (endpoint + load-test task) and per kind (plus the orchestration)."""
    candidates = [_candidate_cost(r, prices.get(r.candidate_id)) for r in results]
    usages = [r.usage for r in results if r.usage is not None]
    skipped = sum(1 for r in results if r.status == "skipped")
    transitions = RUN_TRANSITIONS + SKIPPED_TRANSITIONS * skipped + sum(u.transitions for u in usages)
    invocations = RUN_LAMBDA_INVOCATIONS + sum(u.lambda_invocations for u in usages)
    instance_hours = sum(u.endpoint_seconds * u.endpoint_instances for u in usages) / 3600
    vcpu_hours = sum(fargate_billed_seconds(u.task_seconds) * u.task_vcpu for u in usages) / 3600
    gb_hours = sum(fargate_billed_seconds(u.task_seconds) * u.task_gb for u in usages) / 3600
    gb_seconds = invocations * LAMBDA_GB * LAMBDA_ASSUMED_SECONDS
    by_kind = [
        CostItem(
            kind="endpoint",
            item="SageMaker endpoint instances",
            quantity=f"{instance_hours:.3f} instance-hours",
            usd=round(sum(c.endpoint_usd or 0.0 for c in candidates), 6),
        ),
        CostItem(
            kind="load_test",
            item="Fargate load-test tasks",
            quantity=f"{vcpu_hours:.3f} vCPU-hours, {gb_hours:.3f} GB-hours",
            usd=round(sum(c.load_test_usd for c in candidates), 6),
        ),
        CostItem(
            kind="step_functions",
            item="Step Functions state transitions",
            quantity=f"{transitions} transitions",
            usd=round(transitions * SFN_USD_PER_TRANSITION, 6),
        ),
        CostItem(
            kind="lambda",
            item="Lambda",
            quantity=f"{invocations} invocations (duration not measured: {LAMBDA_ASSUMED_SECONDS} s each assumed)",
            usd=round(invocations * LAMBDA_USD_PER_REQUEST + gb_seconds * LAMBDA_USD_PER_GB_SECOND, 6),
        ),
    ]
    unrecorded = [r.candidate_id for r in results if r.usage is None and r.status != "skipped"]
    unpriced = [c.candidate_id for c in candidates if c.usd is None]
    leaked = [r.candidate_id for r in results if r.usage is not None and not r.usage.endpoint_deleted]
    run_notes = list(notes or [])
    if unrecorded:
        run_notes.append(f"usage not recorded for {', '.join(unrecorded)}: left out of the totals")
    if unpriced:
        run_notes.append(f"no instance price for {', '.join(unpriced)}: its endpoint cost is left out")
    if leaked:
        run_notes.append(f"endpoint of {', '.join(leaked)} not deleted by the run: still billing until swept")
    sources = sorted({p.source for cid, p in prices.items() if isinstance(p, PriceQuote)})
    return RunCost(
        notional=notional,
        measured_usd=round(sum(item.usd for item in by_kind), 6),
        estimated_usd=estimated_usd,
        by_kind=by_kind,
        candidates=candidates,
        complete=not (unrecorded or unpriced or leaked),
        instance_price_sources=sources,
        service_price_source=NOTIONAL_SERVICE_PRICES if notional else SERVICE_PRICES,
        notes=run_notes,
    )
