"""The measured cost: known timestamps give known dollars (rightsizing.measured_cost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rightsizing.estimate import FARGATE_USD_PER_GB_HOUR, FARGATE_USD_PER_VCPU_HOUR, SFN_USD_PER_TRANSITION
from rightsizing.measured_cost import (
    RUN_TRANSITIONS,
    SKIPPED_TRANSITIONS,
    candidate_usage,
    epoch_seconds,
    fargate_billed_seconds,
    price_run,
)
from rightsizing.models.cost import UsageRecord
from rightsizing.models.estimate import Figures
from rightsizing.models.plan import CandidatePlan
from rightsizing.models.price import PriceQuote
from rightsizing.models.result import CandidateResult, StepFailure

PLAN = json.loads((Path(__file__).parents[2] / "events" / "functions" / "collect_metrics.json").read_text())
START = 1_777_888_800  # 2026-05-04T10:00:00Z
C5 = PriceQuote(instance_type="ml.c5.xlarge", region="us-east-1", usd_per_hour=0.204, source="snapshot (2026)")
TASK_USD_PER_SECOND = (2 * FARGATE_USD_PER_VCPU_HOUR + 4 * FARGATE_USD_PER_GB_HOUR) / 3600  # 2 vCPU, 4 GB


def usd(value: float) -> Any:
    """Dollars are rounded to 6 decimals in result.json."""
    return pytest.approx(value, abs=1e-6)


def _plan(**fields: Any) -> CandidatePlan:
    return CandidatePlan.model_validate({**PLAN["candidate"], **fields})


def _iso(seconds: float, moto: bool = False) -> str:
    """EnteredTime as AWS writes it (milliseconds, Z), or as moto's interpreter does (isoformat, +00:00)."""
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(START + seconds, UTC)
    return moment.isoformat() if moto else moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _task(pull: float, stop: float, cpu: str = "2048", memory: str = "4096") -> dict[str, Any]:
    """runTask.sync's output: the stopped task's description, epoch milliseconds."""
    return {
        "TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/0123",
        "Cpu": cpu,
        "Memory": memory,
        "CreatedAt": round((START + pull - 10) * 1000),
        "PullStartedAt": round((START + pull) * 1000),
        "StartedAt": round((START + pull + 20) * 1000),
        "StoppedAt": round((START + stop) * 1000),
    }


def _record(created: float | None, deleted: float | None, task: dict | None = None, **counts: Any) -> UsageRecord:
    times: dict[str, Any] = {"load_test": task}
    if created is not None:
        times["endpoint_created"] = {"at": _iso(created)}
    if deleted is not None:
        times["endpoint_deleted"] = {"at": _iso(deleted, moto=True)}
    return UsageRecord.model_validate({"times": times, "collected_at": _iso(counts.pop("collected", 4000)), **counts})


def _result(cid: str, status: str, usage: Any = None, instance_type: str = "ml.c5.xlarge") -> CandidateResult:
    return CandidateResult(candidate_id=cid, instance_type=instance_type, status=status, usage=usage)  # type: ignore[arg-type]


def test_timestamps_are_read_in_every_form_step_functions_writes() -> None:
    assert epoch_seconds("2026-05-04T10:00:00.250Z") == START + 0.25  # $$.State.EnteredTime on AWS
    assert epoch_seconds("2026-05-04T10:00:00.250000+00:00") == START + 0.25  # moto's interpreter
    assert epoch_seconds(1_777_888_800_250) == START + 0.25  # ECS task times in Step Functions' output (ms)
    assert epoch_seconds(1_777_888_800.25) == START + 0.25  # the ECS API's own JSON (s)
    assert epoch_seconds(None) is None and epoch_seconds("yesterday") is None and epoch_seconds(True) is None


def test_a_measured_candidate_costs_its_endpoint_time_and_its_task_time() -> None:
    # Endpoint 20 min (CreateEndpoint entered at 0, DeleteEndpoint accepted at 1200 s), task pulled at 500 s and
    # stopped at 1100 s: 600 s at 2 vCPU and 4 GB.
    usage = candidate_usage(_plan(), _record(0, 1200, _task(500, 1100), polls=16), None)
    assert (usage.endpoint_seconds, usage.endpoint_instances, usage.endpoint_deleted) == (1200, 1, True)
    assert (usage.task_seconds, usage.task_vcpu, usage.task_gb) == (600, 2, 4)
    assert usage.transitions == 15 + 4 * 16 - 1  # the success path, as estimate.py counts it
    cost = price_run([_result("c01", "succeeded", usage)], {"c01": C5}, notional=False)
    line = cost.candidates[0]
    assert line.endpoint_usd == usd(1200 / 3600 * 0.204)  # $0.068
    assert line.load_test_usd == usd(600 * TASK_USD_PER_SECOND)  # $0.016457
    assert line.usd == usd(0.068 + 600 * TASK_USD_PER_SECOND)
    assert cost.complete and not cost.notional and cost.instance_price_sources == ["snapshot (2026)"]


def test_a_failed_candidate_still_pays_for_the_endpoint_it_had() -> None:
    """The endpoint went Failed after 15 min of polling; it was deleted 20 s later: 920 s, no load test."""
    failure = StepFailure(Error="EndpointFailed", Cause="endpoint x reached status Failed")
    usage = candidate_usage(_plan(), _record(0, 920, polls=30), failure)
    assert (usage.endpoint_seconds, usage.task_seconds) == (920, 0)
    # creates, 30 polls, EndpointFailed, Cleanup, the three deletes, HasOutcome, RecordFailure, CandidateDone
    assert usage.transitions == 3 + 3 + (4 * 30 - 1) + 1 + 1 + 3 + 1 + 1 + 1
    cost = price_run([_result("c01", "failed", usage)], {"c01": C5}, notional=False)
    assert cost.candidates[0].usd == usd(920 / 3600 * 0.204)
    assert cost.candidates[0].load_test_usd == 0


def test_a_load_test_that_failed_is_priced_from_the_task_in_its_cause() -> None:
    failure = StepFailure(Error="LoadTestFailed", Cause=json.dumps(_task(100, 400)))
    usage = candidate_usage(_plan(), _record(0, 450, polls=3), failure)
    assert (usage.endpoint_seconds, usage.task_seconds) == (450, 300)
    # a Lambda error of the same name (no result written) has no task in it
    lambda_error = StepFailure(Error="LoadTestFailed", Cause=json.dumps({"errorMessage": "wrote no result"}))
    assert candidate_usage(_plan(), _record(0, 450, polls=3), lambda_error).task_seconds == 0


def test_a_load_test_that_timed_out_counts_its_whole_timeout_at_the_default_size() -> None:
    failure = StepFailure(Error="States.Timeout")
    usage = candidate_usage(_plan(load_test_timeout_seconds=900), _record(0, 1500, polls=5), failure)
    assert (usage.task_seconds, usage.task_vcpu, usage.task_gb) == (900, 2, 4)
    assert "900 s timeout" in usage.notes[0]


def test_an_existing_endpoint_costs_only_its_load_test() -> None:
    usage = candidate_usage(_plan(existing_endpoint=True), _record(None, None, _task(0, 300), polls=1), None)
    assert (usage.endpoint_seconds, usage.endpoint_instances) == (0, 0)
    assert usage.transitions == 12  # estimate.py's TRANSITIONS_EXISTING_ENDPOINT
    cost = price_run([_result("c01", "succeeded", usage)], {"c01": C5}, notional=False)
    assert cost.candidates[0].endpoint_usd == 0 and cost.candidates[0].usd == usd(300 * TASK_USD_PER_SECOND)
    assert "existing endpoint" in str(cost.candidates[0].note)


def test_a_create_that_failed_created_nothing_to_pay_for() -> None:
    failure = StepFailure(Error="SageMaker.ResourceLimitExceededException", Cause="quota 0")
    usage = candidate_usage(_plan(), _record(None, None), failure)  # no endpoint_created: the create never succeeded
    assert (usage.endpoint_seconds, usage.endpoint_instances, usage.task_seconds) == (0, 0, 0)


def test_an_endpoint_never_deleted_is_counted_until_recorded_and_marked_as_a_floor() -> None:
    usage = candidate_usage(
        _plan(max_delete_attempts=80),
        _record(0, None, _task(400, 700), polls=10, delete_attempts=80, collected=3600),
        None,
    )
    assert (usage.endpoint_seconds, usage.endpoint_deleted) == (3600, False)
    cost = price_run([_result("c01", "succeeded", usage)], {"c01": C5}, notional=False)
    assert not cost.complete and "still billing" in cost.notes[0]


def test_fargate_bills_per_second_with_a_one_minute_minimum() -> None:
    assert fargate_billed_seconds(0) == 0 and fargate_billed_seconds(5.2) == 60 and fargate_billed_seconds(61.2) == 62


def test_the_run_adds_orchestration_and_a_skipped_candidate_costs_nothing() -> None:
    measured = candidate_usage(_plan(), _record(0, 1200, _task(500, 1100), polls=16), None)
    results = [
        _result("c01", "succeeded", measured),
        _result("c02", "skipped", None, "ml.g5.xlarge"),
        _result("c03", "failed", None),  # its failure could not be recorded (FailureNotRecorded): no usage
    ]
    estimate = Figures(low=0.05, typical=0.09, worst=0.5)
    cost = price_run(results, {"c01": C5, "c02": "no price", "c03": C5}, notional=True, estimated_usd=estimate)
    by_id = {c.candidate_id: c for c in cost.candidates}
    assert by_id["c02"].usd == 0 and by_id["c02"].note == "skipped: nothing was created"
    kinds = {item.kind: item for item in cost.by_kind}
    transitions = RUN_TRANSITIONS + SKIPPED_TRANSITIONS + measured.transitions
    assert kinds["step_functions"].quantity == f"{transitions} transitions"
    assert kinds["step_functions"].usd == usd(transitions * SFN_USD_PER_TRANSITION)
    assert kinds["lambda"].quantity.startswith("3 invocations")  # plan, recommend, c01's collect
    assert kinds["endpoint"].usd == usd(0.068)
    assert cost.measured_usd == usd(sum(item.usd for item in cost.by_kind))
    assert cost.notional and cost.service_price_source.startswith("notional")
    assert cost.estimated_usd == estimate
    assert not cost.complete and "usage not recorded for c03" in cost.notes[0]  # left out, and said


def test_an_unpriced_endpoint_is_left_out_and_said() -> None:
    usage = candidate_usage(_plan(), _record(0, 600, _task(100, 400), polls=5), None)
    cost = price_run([_result("c01", "succeeded", usage)], {"c01": "no price for ml.c5.xlarge"}, notional=False)
    assert cost.candidates[0].endpoint_usd is None and cost.candidates[0].usd is None
    assert not cost.complete and "no instance price for c01" in cost.notes[0]
