"""What a run will cost and how long it will take, before anything is created: pure arithmetic, no AWS call.

Three figures for each quantity: **low** and **typical** use documented step times (constants below, each citing
its source) and the load search's expected test time; **worst** uses every bound the state machine enforces (the
whole endpoint wait, the whole test bound, the slowest task start and deletion). Prices come from a ``PriceSource``
(the Price List API or the bundled snapshot); Fargate, Step Functions and Lambda prices are us-east-1's.

The endpoints' instance-hours dominate; the plan step's budget check (``steps/plan.py``) refuses a run whose
**worst** endpoint cost is above ``budget_usd``, from the same figures as the dry run.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

from rightsizing.exceptions import AmbiguousPrice, PriceNotFound
from rightsizing.history_budget import poll_schedule
from rightsizing.models.candidates import CandidateSpec
from rightsizing.models.estimate import (
    SCENARIOS,
    CandidateEstimate,
    CostLine,
    Figures,
    LoadTestTaskSize,
    RunEstimate,
    Scenario,
)
from rightsizing.models.load import LoadSettings
from rightsizing.models.plan import candidate_id_for
from rightsizing.models.request import RightsizingRequest
from rightsizing.ports import PriceSource

# CreateEndpoint -> InService: typically 5-10 min for small CPU models, 8-15 min on GPU (observed ranges, longer for
# large artefacts; AWS publishes no figure, botocore's endpoint_in_service waiter allows 60 min). low = the range's
# start, typical = its middle; worst = limits.max_endpoint_wait_seconds (the plan's bound).
CPU_CREATION_SECONDS = (5 * 60, 7.5 * 60)
ACCELERATED_CREATION_SECONDS = (8 * 60, 11.5 * 60)
ACCELERATED_FAMILIES = ("g", "p", "inf", "trn", "dl")  # GPU, Inferentia, Trainium, Gaudi: ml.g5, ml.inf2, ...
# Fargate task start (provisioning + image pull; billed from the pull, https://aws.amazon.com/fargate/pricing/):
# 20-90 s observed, the image pull dominating.
TASK_START_SECONDS = (20, 55, 90)
# DeleteEndpoint until the instance is gone and stops billing: ~1-2 min (observed in the AWS console; an assumption,
# AWS documents no figure). The state machine does not wait for it: it overlaps the metrics wait.
DELETION_SECONDS = (60, 90, 120)
# A Lambda step (plan, collect, recommend): an allowance, not a measurement: ~1-2 s warm, a cold start adds a few
# seconds, the worst case allows for a Retry.
LAMBDA_STEP_SECONDS = (2, 5, 30)
LAMBDA_GB = 1.0  # the largest function's memory (Recommend, 1024 MB): an upper bound for all of them

# Prices, us-east-1: Fargate Linux x86 per vCPU-hour and GB-hour, per second with a 1-minute minimum
# (aws.amazon.com/fargate/pricing); Step Functions Standard per state transition
# (aws.amazon.com/step-functions/pricing); Lambda arm64 per GB-second and per request (aws.amazon.com/lambda/pricing).
FARGATE_USD_PER_VCPU_HOUR = 0.04048
FARGATE_USD_PER_GB_HOUR = 0.004445
FARGATE_MINIMUM_SECONDS = 60
SFN_USD_PER_TRANSITION = 0.025 / 1000
LAMBDA_USD_PER_GB_SECOND = 0.0000133334
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
WORKER_TASK_VCPU, WORKER_TASK_GB = 1.0, 2.0  # template.yaml LoadTestWorkerTaskDefinition: 1024 CPU, 2048 MiB

# State transitions, counted from statemachine/rightsizing.asl.json like history_budget counts events (retries add
# more). Run: PlanRun, BenchmarkCandidates, Recommend, PublishResult. A deployed candidate: StartCandidate,
# IsWithinBudget, IsExistingEndpoint, CreateModel, CreateEndpointConfig, CreateEndpoint, RunLoadTest, Cleanup,
# DeleteEndpoint, DeleteEndpointConfig, DeleteModel, HasOutcome, WaitForMetrics, CollectMetrics, CandidateDone (15),
# plus per poll DescribeEndpoint, CountPoll, IsEndpointReady and (but after the last) WaitForEndpoint; per refused
# delete DeleteEndpoint, IsEndpointGone, CountDeleteAttempt, CanRetryDelete, WaitBeforeDeleteRetry. An existing
# endpoint: StartCandidate, IsWithinBudget, IsExistingEndpoint, one poll (3), RunLoadTest, Cleanup, HasOutcome,
# WaitForMetrics, CollectMetrics, CandidateDone. A candidate the budget skips: StartCandidate, IsWithinBudget,
# SkipCandidate, CandidateDone.
TRANSITIONS_RUN = 4
TRANSITIONS_CANDIDATE_FIXED = 15
TRANSITIONS_PER_POLL = 4
TRANSITIONS_PER_DELETE_RETRY = 5
TRANSITIONS_EXISTING_ENDPOINT = 12
TRANSITIONS_SKIPPED = 4

# Expected test time of each load search when it does not hit the bound, from its structure and the local
# benchmarks in docs/load-search.md (adaptive searches of known-capacity servers took ~30-70 s).
ADAPTIVE_SECONDS = (30, 60)

ASSUMPTIONS = (
    "endpoint creation 5-10 min on CPU, 8-15 min on GPU/Inferentia/Trainium (low = start of the range, typical = "
    "its middle, worst = limits.max_endpoint_wait_seconds); detected at the next status poll",
    "Fargate task start 20 / 55 / 90 s; the test as the load search usually takes (worst: "
    "limits.max_seconds_per_candidate)",
    "endpoint deletion 1 / 1.5 / 2 min; instances billed from CreateEndpoint until deleted",
    "metrics wait 2 min after each test; Lambda steps 2 / 5 / 30 s each",
    "Fargate (Linux x86), Step Functions and Lambda (arm64) at us-east-1 prices (ARM64 Fargate costs less; other "
    "regions differ)",
    "not counted: S3, CloudWatch Logs and metrics, data transfer (cents)",
)


def is_accelerated(instance_type: str) -> bool:
    """GPU, Inferentia, Trainium or Gaudi instance (slower to create): ml.g5.xlarge, ml.inf2.xlarge, ..."""
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    return family.startswith(ACCELERATED_FAMILIES)


def expected_test_seconds(load: LoadSettings, bound: int) -> tuple[float, float]:
    """(low, typical) seconds the load search runs when it ends by itself, all ``load.trials`` of it; never more than
    ``bound`` (the candidate's time limit bounds every trial together)."""
    low, typical = _one_search_seconds(load)
    low, typical = low * load.trials, typical * load.trials  # every trial is a whole search
    if load.worker_placement == "tasks":  # worker tasks start within the test: 20-90 s
        low, typical = low + TASK_START_SECONDS[0], typical + TASK_START_SECONDS[1]
    return min(low, bound), min(typical, bound)


def _one_search_seconds(load: LoadSettings) -> tuple[float, float]:
    if load.mode == "phases":
        phases = sum(phase.duration_seconds for phase in load.phases)
        stops_early = load.stop.max_invocations_per_minute is not None or load.stop.latency_ms is not None
        return (phases / 2 if stops_early else phases), phases
    if load.mode == "stepped":
        steps = math.floor(math.log2(load.max_users)) + 1  # users 1, 2, 4, ... up to max_users
        return math.ceil(steps / 2) * load.step_seconds, steps * load.step_seconds
    if load.mode == "ramp":
        ramp = load.max_users / 5  # users ramped at 5 per second until errors (docs/load-search.md)
        return ramp / 2, ramp
    low, typical = ADAPTIVE_SECONDS[0] + load.warmup_seconds, ADAPTIVE_SECONDS[1] + load.warmup_seconds
    if load.confirm_seconds:
        low, typical = low * 2, typical * 2  # "roughly doubled the test time" (docs/load-search.md)
    return low, typical


@dataclass(frozen=True)
class _RunBounds:
    """What every candidate of the run shares: the poll schedule, the limits and the test time."""

    poll: int
    max_polls: int
    max_delete_attempts: int
    wait: int
    test: dict[Scenario, float]
    metrics_delay: int
    task: LoadTestTaskSize
    load: LoadSettings


@dataclass(frozen=True)
class _CandidateTimes:
    """One candidate's seconds and counts in each scenario."""

    run: _RunBounds
    existing: bool
    accelerated: bool

    def polls(self, scenario: Scenario) -> int:
        if scenario == "worst":
            return self.run.max_polls
        creation = (ACCELERATED_CREATION_SECONDS if self.accelerated else CPU_CREATION_SECONDS)[_at(scenario)]
        return max(1, math.ceil(creation / self.run.poll))  # InService is seen at the next poll

    def creation(self, scenario: Scenario) -> float:
        if self.existing:
            return 0.0
        return float(self.run.wait) if scenario == "worst" else float(self.polls(scenario) * self.run.poll)

    def task(self, scenario: Scenario) -> float:
        """The load-test task, billed from its image pull until it stops."""
        return TASK_START_SECONDS[_at(scenario)] + self.run.test[scenario]

    def instance(self, scenario: Scenario) -> float:
        if self.existing:
            return 0.0  # it runs (and bills) whether or not it is benchmarked
        return self.creation(scenario) + self.task(scenario) + DELETION_SECONDS[_at(scenario)]

    def iteration(self, scenario: Scenario) -> float:
        """Wall time of the Map iteration; the deletion overlaps the metrics wait."""
        return (
            self.creation(scenario) + self.task(scenario) + self.run.metrics_delay + LAMBDA_STEP_SECONDS[_at(scenario)]
        )

    def fargate_hours(self, scenario: Scenario) -> float:
        return max(self.task(scenario), FARGATE_MINIMUM_SECONDS) / 3600

    def worker_tasks(self, scenario: Scenario) -> int:
        load = self.run.load
        if load.worker_placement != "tasks":
            return 0
        most = load.max_workers if isinstance(load.max_workers, int) else load.workers
        return most if scenario == "worst" else load.workers

    def transitions(self, scenario: Scenario) -> float:
        if self.existing:
            return TRANSITIONS_EXISTING_ENDPOINT
        refused_deletes = self.run.max_delete_attempts - 1 if scenario == "worst" else 0
        return (
            TRANSITIONS_CANDIDATE_FIXED
            + TRANSITIONS_PER_POLL * self.polls(scenario)
            - 1  # no WaitForEndpoint after the last poll
            + TRANSITIONS_PER_DELETE_RETRY * refused_deletes
        )


def _at(scenario: Scenario) -> int:
    return SCENARIOS.index(scenario)


def estimate_run(
    request: RightsizingRequest,
    prices: PriceSource,
    *,
    default_poll_seconds: int = 30,
    history_event_budget: int | None = None,
    metrics_delay_seconds: int = 120,
    max_parallel_candidates: int | None = None,
    task: LoadTestTaskSize | None = None,
    strict_prices: bool = False,
) -> RunEstimate:
    """The run's cost and duration. ``max_parallel_candidates``: the deployment's cap on Map concurrency (the stack's
    MaxParallelCandidates); ``strict_prices``: raise PriceNotFound / AmbiguousPrice instead of noting them."""
    task = task or LoadTestTaskSize()
    schedule = poll_schedule(request, default_poll_seconds, history_event_budget)
    limits = request.limits
    test_low, test_typical = expected_test_seconds(request.load, limits.max_seconds_per_candidate)
    run = _RunBounds(
        poll=schedule.poll_seconds,
        max_polls=schedule.max_polls,
        max_delete_attempts=schedule.max_delete_attempts,
        wait=limits.max_endpoint_wait_seconds,
        test={"low": test_low, "typical": test_typical, "worst": float(limits.max_seconds_per_candidate)},
        metrics_delay=metrics_delay_seconds,
        task=task,
        load=request.load,
    )
    notes: list[str] = []
    quotes: dict[str, tuple[float, str] | None] = {}

    def price_of(instance_type: str) -> tuple[float, str] | None:
        if instance_type not in quotes:
            try:
                quote = prices.hourly_price(instance_type, request.region)
                quotes[instance_type] = (quote.usd_per_hour, quote.source)
            except (PriceNotFound, AmbiguousPrice) as e:
                if strict_prices:
                    raise
                quotes[instance_type] = None
                notes.append(f"{instance_type}: {e}; its instance cost is left out of the totals")
        return quotes[instance_type]

    candidates = [
        _candidate(index, spec, environment, run, price_of)
        for index, (spec, environment) in enumerate(request.variants(), start=1)
    ]
    concurrency = min(limits.max_parallel_candidates, max_parallel_candidates or limits.max_parallel_candidates)
    return _totals(candidates, concurrency, run, notes)


def _candidate(
    index: int,
    spec: CandidateSpec,
    environment: dict[str, str],
    run: _RunBounds,
    price_of: Callable[[str], tuple[float, str] | None],
) -> CandidateEstimate:
    times = _CandidateTimes(run, spec.endpoint_name is not None, is_accelerated(spec.instance_type))
    price = None if times.existing else price_of(spec.instance_type)
    hours = Figures.of(lambda s: times.instance(s) / 3600)
    task = run.task
    return CandidateEstimate(
        candidate_id=candidate_id_for(index, spec.instance_type, environment),
        instance_type=spec.instance_type,
        existing_endpoint=times.existing,
        accelerated=times.accelerated,
        usd_per_hour=price[0] if price else None,
        price_source=price[1] if price else None,
        iteration_seconds=Figures.of(times.iteration),
        instance_hours=hours,
        instance_usd=Figures.of(lambda s: hours.get(s) * price[0]) if price else None,
        fargate_vcpu_hours=Figures.of(
            lambda s: times.fargate_hours(s) * (task.vcpu + WORKER_TASK_VCPU * times.worker_tasks(s))
        ),
        fargate_gb_hours=Figures.of(
            lambda s: times.fargate_hours(s) * (task.gb + WORKER_TASK_GB * times.worker_tasks(s))
        ),
        transitions=Figures.of(times.transitions),
    )


def makespan(durations: list[float], concurrency: int) -> float:
    """Wall time of an inline Map running ``durations`` in order, at most ``concurrency`` at a time: each iteration
    starts when a slot frees."""
    slots = [0.0] * min(concurrency, len(durations))
    heapq.heapify(slots)
    end = 0.0
    for duration in durations:
        finish = heapq.heappop(slots) + duration
        end = max(end, finish)
        heapq.heappush(slots, finish)
    return end


def _sum(figures: list[Figures]) -> Figures:
    return Figures.of(lambda s: sum(f.get(s) for f in figures))


def _totals(candidates: list[CandidateEstimate], concurrency: int, run: _RunBounds, notes: list[str]) -> RunEstimate:
    deployed = [c for c in candidates if not c.existing_endpoint]
    priced = [c.instance_usd for c in deployed if c.instance_usd is not None]
    endpoint_usd = _sum(priced)
    instance_hours = _sum([c.instance_hours for c in deployed])
    vcpu_hours = _sum([c.fargate_vcpu_hours for c in candidates])
    gb_hours = _sum([c.fargate_gb_hours for c in candidates])
    transitions = Figures.of(lambda s: TRANSITIONS_RUN + sum(c.transitions.get(s) for c in candidates))
    invocations = 2 + len(candidates)  # plan, one collect per candidate, recommend
    lambda_gb_seconds = Figures.of(lambda s: invocations * LAMBDA_GB * LAMBDA_STEP_SECONDS[SCENARIOS.index(s)])
    costs = [
        CostLine(
            item="SageMaker endpoint instances",
            quantity=f"{_span(instance_hours, '{:.2f}')} instance-hours",
            usd=endpoint_usd,
        ),
        CostLine(
            item="Fargate load-test tasks",
            quantity=f"{_span(vcpu_hours, '{:.2f}')} vCPU-hours, {_span(gb_hours, '{:.2f}')} GB-hours",
            usd=Figures.of(
                lambda s: vcpu_hours.get(s) * FARGATE_USD_PER_VCPU_HOUR + gb_hours.get(s) * FARGATE_USD_PER_GB_HOUR
            ),
        ),
        CostLine(
            item="Step Functions state transitions",
            quantity=f"{_span(transitions, '{:,.0f}')} transitions",
            usd=Figures.of(lambda s: transitions.get(s) * SFN_USD_PER_TRANSITION),
        ),
        CostLine(
            item="Lambda",
            quantity=f"{invocations} invocations, {_span(lambda_gb_seconds, '{:.0f}')} GB-seconds",
            usd=Figures.of(
                lambda s: lambda_gb_seconds.get(s) * LAMBDA_USD_PER_GB_SECOND + invocations * LAMBDA_USD_PER_REQUEST
            ),
        ),
    ]
    lambda_run = Figures.of(lambda s: 2 * LAMBDA_STEP_SECONDS[SCENARIOS.index(s)])  # plan and recommend
    duration = Figures.of(
        lambda s: lambda_run.get(s) + makespan([c.iteration_seconds.get(s) for c in candidates], concurrency)
    )
    return RunEstimate(
        benchmarks=len(candidates),
        max_concurrency=concurrency,
        poll_seconds=run.poll,
        load_test_task=run.task,
        candidates=candidates,
        costs=costs,
        total_usd=_sum([line.usd for line in costs]),
        endpoint_usd=endpoint_usd,
        duration_seconds=duration,
        complete=len(priced) == len(deployed),
        assumptions=list(ASSUMPTIONS),
        notes=notes,
    )


def _span(figures: Figures, fmt: str) -> str:
    """'low-worst', or one figure when they agree."""
    low, worst = fmt.format(figures.low), fmt.format(figures.worst)
    return low if low == worst else f"{low}-{worst}"


def candidate_worst_usd(candidate: CandidateEstimate) -> float:
    """A candidate's worst-case endpoint cost: the whole wait for InService, the slowest task start, the whole test
    bound and the slowest deletion, at its price (what the budget holds, as the dry run's budget check does: Fargate
    and transitions cost cents beside it). An existing endpoint's instances are not the run's to pay for."""
    return candidate.instance_usd.worst if candidate.instance_usd is not None else 0.0


@dataclass(frozen=True)
class BudgetShare:
    """One candidate's place in the budget: what it may cost at worst, and why it is skipped (None: it runs)."""

    candidate_id: str
    worst_usd: float
    committed_usd: float  # the worst case of the candidates before it that run, this one included if it runs
    skip_reason: str | None


def allocate_budget(estimate: RunEstimate, budget_usd: float | None) -> list[BudgetShare]:
    """Which candidates the budget allows, decided before the Map starts.

    The Map's iterations run in parallel, so no iteration can know what the others have spent: the plan commits, in
    request order, each candidate's worst case, and skips one whose worst case on top of those already committed would
    pass ``budget_usd``. A later, cheaper candidate may still fit. The run can then never spend more than the budget,
    even if every candidate that runs hits every bound."""
    shares: list[BudgetShare] = []
    committed = 0.0
    for candidate in estimate.candidates:
        worst = candidate_worst_usd(candidate)
        if budget_usd is None or committed + worst <= budget_usd:
            committed += worst
            shares.append(BudgetShare(candidate.candidate_id, worst, committed, None))
            continue
        reason = (
            f"its worst case ${worst:.2f} on top of the ${committed:.2f} committed to earlier candidates would pass "
            f"budget_usd ${budget_usd:.2f} (not deployed)"
        )
        shares.append(BudgetShare(candidate.candidate_id, worst, committed, reason))
    return shares
