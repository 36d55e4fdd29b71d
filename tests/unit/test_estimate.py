"""The run estimate: figures hand-computed from the documented step times, transitions recounted from the ASL."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rightsizing import estimate as est
from rightsizing.estimate import (
    allocate_budget,
    candidate_worst_usd,
    estimate_run,
    expected_test_seconds,
    is_accelerated,
    makespan,
)
from rightsizing.exceptions import BudgetExceeded, PriceNotFound
from rightsizing.history_budget import HISTORY_EVENT_BUDGET
from rightsizing.models.estimate import LoadTestTaskSize
from rightsizing.models.load import LoadSettings
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import RightsizingRequest, parse_request
from rightsizing.pricing.snapshot import SnapshotPrices
from rightsizing.steps.plan import _check_budget

REPO = Path(__file__).resolve().parents[2]
MakeRequest = Callable[..., RightsizingRequest]


def _fraud() -> RightsizingRequest:
    return parse_request(json.loads((REPO / "events" / "aws-fraud-tabular.json").read_text()))


def _aws_estimate(request: RightsizingRequest, **options: Any) -> est.RunEstimate:
    """As the dry run asks on AWS: 30 s polls within the history budget, 2 min metrics wait, stack cap 4."""
    return estimate_run(
        request,
        SnapshotPrices(),
        default_poll_seconds=30,
        history_event_budget=HISTORY_EVENT_BUDGET,
        metrics_delay_seconds=120,
        max_parallel_candidates=4,
        **options,
    )


def test_fraud_request_figures_by_hand() -> None:
    # 6 benchmarks (ml.c6i.xlarge has a 2-value grid), all CPU, 3 at a time (limits 3 < stack cap 4), 30 s polls.
    # Per benchmark, instance seconds = creation (at the next poll) + task start + test + deletion:
    #   low     300 (10 polls) + 20 + 33 (adaptive 30 + 3 s warm-up) + 60  =  413
    #   typical 450 (15 polls) + 55 + 63                             + 90  =  658
    #   worst  2400 (the wait) + 90 + 900 (the test bound)           + 120 = 3510
    # Snapshot $/h: c5 0.204 + m5 0.23 + c6i 0.204 x 2 + c7g 0.174 + r5 0.302 = 1.318.
    estimate = _aws_estimate(_fraud())
    assert (estimate.benchmarks, estimate.max_concurrency, estimate.poll_seconds) == (6, 3, 30)
    assert estimate.complete and not estimate.notes
    first = estimate.candidates[0]
    assert first.instance_hours.model_dump() == pytest.approx(
        {"low": 413 / 3600, "typical": 658 / 3600, "worst": 0.975}
    )
    assert estimate.endpoint_usd.model_dump() == pytest.approx(
        {"low": 1.318 * 413 / 3600, "typical": 1.318 * 658 / 3600, "worst": 1.318 * 0.975}
    )
    lines = {line.item: line.usd.model_dump() for line in estimate.costs}
    # Fargate 2 vCPU x $0.04048 + 4 GB x $0.004445 = $0.09874/h, billed 60 s (1-minute minimum) / 118 s / 990 s, x 6.
    assert lines["Fargate load-test tasks"] == pytest.approx(
        {"low": 6 * 60 / 3600 * 0.09874, "typical": 6 * 118 / 3600 * 0.09874, "worst": 6 * 990 / 3600 * 0.09874}
    )
    # Transitions: 4 + 6 x (15 + 4 polls - 1): 10 polls, 15 polls; worst 80 polls and 79 refused deletes (x 5).
    assert [c.transitions.worst for c in estimate.candidates] == [15 + 4 * 80 - 1 + 5 * 79] * 6
    assert lines["Step Functions state transitions"] == pytest.approx(
        {"low": 328 * 0.000025, "typical": 448 * 0.000025, "worst": 4378 * 0.000025}
    )
    # Lambda: 8 invocations (plan, 6 collects, recommend) x 1 GB x 2 / 5 / 30 s, plus $0.20 per million requests.
    assert lines["Lambda"]["worst"] == pytest.approx(240 * 0.0000133334 + 8 * 0.2e-6)
    assert estimate.total_usd.model_dump() == pytest.approx(
        {"low": 0.169493, "typical": 0.272055, "worst": 1.560623}, abs=1e-5
    )
    # Iterations: creation + task + 120 s metrics wait + a Lambda step: 475 / 693 / 3540 s; two waves of three, plus
    # the plan and recommend steps.
    assert estimate.duration_seconds.model_dump() == pytest.approx(
        {"low": 2 * 475 + 4, "typical": 2 * 693 + 10, "worst": 2 * 3540 + 60}
    )


def test_gpu_endpoints_take_longer_to_create(aws_request: MakeRequest) -> None:
    estimate = _aws_estimate(aws_request([{"instance_type": "ml.g5.xlarge"}, {"instance_type": "ml.c5.xlarge"}]))
    gpu, cpu = estimate.candidates
    assert gpu.accelerated and not cpu.accelerated
    # 8 and 11.5 minutes, seen at the next 30 s poll; the worst case is the same wait for both.
    assert gpu.iteration_seconds.low - cpu.iteration_seconds.low == 480 - 300
    assert gpu.iteration_seconds.typical - cpu.iteration_seconds.typical == 690 - 450
    assert gpu.iteration_seconds.worst == cpu.iteration_seconds.worst


@pytest.mark.parametrize(
    ("instance_type", "accelerated"),
    [
        ("ml.g4dn.xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.inf2.xlarge", True),
        ("ml.trn1.2xlarge", True),
        ("ml.dl1.24xlarge", True),
        ("ml.c7g.xlarge", False),
        ("ml.m5.large", False),
        ("local.small", False),
    ],
)
def test_accelerated_families(instance_type: str, accelerated: bool) -> None:
    assert is_accelerated(instance_type) is accelerated


def test_an_existing_endpoint_costs_no_instance_hours(aws_request: MakeRequest) -> None:
    request = aws_request([{"instance_type": "ml.c5.xlarge", "endpoint_name": "prod-fraud"}])
    (candidate,) = _aws_estimate(request).candidates
    assert candidate.instance_hours.worst == 0 and candidate.instance_usd is None
    assert candidate.transitions.worst == est.TRANSITIONS_EXISTING_ENDPOINT
    assert candidate.fargate_vcpu_hours.low > 0  # the load test still runs


def test_worker_tasks_add_fargate_hours(aws_request: MakeRequest) -> None:
    load = {"workers": 2, "max_workers": 6, "worker_placement": "tasks"}
    (candidate,) = _aws_estimate(aws_request([{"instance_type": "ml.c5.xlarge"}], load=load)).candidates
    # Master 2 vCPU + 2 worker tasks x 1 vCPU; worst: 6 workers for the whole 600 s bound + 90 s start.
    assert candidate.fargate_vcpu_hours.worst == pytest.approx((2 + 6) * 690 / 3600)
    low_seconds = max(20 + 33 + 20, 60)  # worker tasks start within the test: +20 s
    assert candidate.fargate_vcpu_hours.low == pytest.approx((2 + 2) * low_seconds / 3600)


def test_the_stack_task_size_and_cap_are_used(aws_request: MakeRequest) -> None:
    request = aws_request([{"instance_type": f"ml.c5.{size}"} for size in ("large", "xlarge", "2xlarge")])
    estimate = estimate_run(
        request, SnapshotPrices(), max_parallel_candidates=1, task=LoadTestTaskSize(cpu_units=4096, memory_mib=8192)
    )
    assert estimate.max_concurrency == 1
    assert estimate.duration_seconds.low == pytest.approx(sum(c.iteration_seconds.low for c in estimate.candidates) + 4)
    assert estimate.candidates[0].fargate_gb_hours.worst == pytest.approx(8 * (90 + 600) / 3600)


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        ({}, (33, 63)),  # adaptive + 3 s warm-up
        ({"confirm_seconds": 20}, (66, 126)),
        ({"mode": "stepped", "step_seconds": 2, "max_users": 256}, (10, 18)),  # 9 steps: 1, 2, ... 256
        ({"mode": "ramp", "max_users": 100}, (10, 20)),
        ({"mode": "phases", "phases": [{"duration_seconds": 120}, {"duration_seconds": 60}]}, (180, 180)),
        ({"mode": "phases", "phases": [{"duration_seconds": 120}], "stop": {"latency_ms": 50}}, (60, 120)),
        ({"mode": "phases", "phases": [{"duration_seconds": 3600}]}, (600, 600)),  # never beyond the bound
    ],
)
def test_expected_test_seconds_of_each_search(load: dict[str, Any], expected: tuple[float, float]) -> None:
    assert expected_test_seconds(LoadSettings.model_validate(load), bound=600) == expected


def test_makespan_starts_each_iteration_when_a_slot_frees() -> None:
    assert makespan([10, 10, 10, 10], 2) == 20
    assert makespan([30, 10, 10, 10], 2) == 30  # the short ones share the second slot
    assert makespan([5], 40) == 5
    assert makespan([], 3) == 0


class OnePrice:
    def hourly_price(self, instance_type: str, region: str) -> PriceQuote:
        if instance_type != "ml.c5.xlarge":
            raise PriceNotFound(f"no price for {instance_type}")
        return PriceQuote(instance_type=instance_type, region=region, usd_per_hour=1.0, source="test")


def test_an_unpriced_type_is_noted_and_left_out(aws_request: MakeRequest) -> None:
    request = aws_request([{"instance_type": "ml.c5.xlarge"}, {"instance_type": "ml.m5.xlarge"}])
    estimate = estimate_run(request, OnePrice())
    assert not estimate.complete
    assert estimate.notes == ["ml.m5.xlarge: no price for ml.m5.xlarge; its instance cost is left out of the totals"]
    assert estimate.endpoint_usd.worst == pytest.approx(estimate.candidates[0].instance_hours.worst)
    with pytest.raises(PriceNotFound):
        estimate_run(request, OnePrice(), strict_prices=True)


class Backend:
    """The parts of a Backend the budget check reads."""

    prices = SnapshotPrices()
    default_poll_seconds = 30
    history_event_budget = HISTORY_EVENT_BUDGET
    metrics_delay_seconds = 120
    max_parallel_candidates = 40


def test_the_plan_budget_check_uses_the_estimates_worst_case() -> None:
    request = _fraud()
    estimate = _aws_estimate(request)
    worst = estimate.endpoint_usd.worst  # $1.29 (see above)
    shares = _check_budget(request.model_copy(update={"budget_usd": worst + 0.001}), Backend())  # type: ignore[arg-type]
    assert not any(share.skip_reason for share in shares)
    # Just below: the last candidate no longer fits on top of the others' worst cases.
    shares = _check_budget(request.model_copy(update={"budget_usd": worst - 0.001}), Backend())  # type: ignore[arg-type]
    assert [bool(share.skip_reason) for share in shares] == [False] * 5 + [True]
    cheapest = min(candidate_worst_usd(c) for c in estimate.candidates)
    with pytest.raises(BudgetExceeded, match=f"no candidate fits .* up to \\${cheapest:.2f}"):
        _check_budget(request.model_copy(update={"budget_usd": cheapest - 0.001}), Backend())  # type: ignore[arg-type]


def test_the_budget_commits_worst_cases_in_order_and_lets_a_cheaper_later_candidate_in() -> None:
    estimate = _aws_estimate(_fraud())
    worst = [candidate_worst_usd(c) for c in estimate.candidates]
    budget = worst[0] + worst[4] + 0.001  # c01 and c05 (the cheapest, ml.c7g) fit; c02-c04 and c06 do not
    shares = allocate_budget(estimate, budget)
    assert [share.skip_reason is None for share in shares] == [True, False, False, False, True, False]
    assert shares[4].committed_usd == pytest.approx(worst[0] + worst[4])
    reason = shares[1].skip_reason or ""
    assert reason.startswith(f"its worst case ${worst[1]:.2f} on top of the ${worst[0]:.2f} committed")
    assert f"budget_usd ${budget:.2f}" in reason
    assert all(share.skip_reason is None for share in allocate_budget(estimate, None))


# --- the transition constants, walked through the definition ---------------------------------------------------

DEFINITION = json.loads((REPO / "statemachine" / "rightsizing.asl.json").read_text())
ITERATION = DEFINITION["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"]


def _edges(states: dict[str, Any]) -> set[tuple[str, str]]:
    edges = set()
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        edges |= {(name, target) for target in targets if target}
    return edges


def _walk(path: list[str], states: dict[str, Any]) -> int:
    """The number of states entered along ``path``, after checking each step is a transition of the definition."""
    edges = _edges(states)
    for step in itertools.pairwise(path):
        assert step in edges, f"{step[0]} cannot go to {step[1]}"
    return len(path)


def test_transition_constants_match_the_definition() -> None:
    poll = ["DescribeEndpoint", "CountPoll", "IsEndpointReady"]
    polls = 3
    deployed = (
        ["StartCandidate", "IsWithinBudget", "IsExistingEndpoint"]
        + ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
        + [*poll, "WaitForEndpoint"] * (polls - 1)
        + poll
        + ["RunLoadTest", "Cleanup", "DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"]
        + ["HasOutcome", "WaitForMetrics", "CollectMetrics", "CandidateDone"]
    )
    expected = est.TRANSITIONS_CANDIDATE_FIXED + est.TRANSITIONS_PER_POLL * polls - 1
    assert _walk(deployed, ITERATION) == expected
    refused = ["DeleteEndpoint", "IsEndpointGone", "CountDeleteAttempt", "CanRetryDelete", "WaitBeforeDeleteRetry"]
    assert _walk([*refused, "DeleteEndpoint"], ITERATION) - 1 == est.TRANSITIONS_PER_DELETE_RETRY
    existing = ["StartCandidate", "IsWithinBudget", "IsExistingEndpoint", *poll, "RunLoadTest", "Cleanup", "HasOutcome"]
    existing += ["WaitForMetrics", "CollectMetrics", "CandidateDone"]
    assert _walk(existing, ITERATION) == est.TRANSITIONS_EXISTING_ENDPOINT
    skipped = ["StartCandidate", "IsWithinBudget", "SkipCandidate", "CandidateDone"]
    assert _walk(skipped, ITERATION) == est.TRANSITIONS_SKIPPED
    run = ["PlanRun", "BenchmarkCandidates", "Recommend", "PublishResult"]
    assert _walk(run, DEFINITION["States"]) == est.TRANSITIONS_RUN
