"""Run history, pure: model keys, records, change detection on recorded history, and run comparison."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rightsizing.history import compare_runs, detect_change, model_key, request_hash
from rightsizing.models.history import CandidateCapacity, RecordedRecommendation, RunRecord
from rightsizing.models.request import RightsizingRequest

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-models/7"


def record(
    run_id: str,
    answer: tuple[str, int, float] | None,
    *,
    day: int = 0,
    request: str = "a" * 64,
    candidates: list[CandidateCapacity] | None = None,
) -> RunRecord:
    """A recorded run of one model; ``answer`` = (instance type, count, fleet $/h) or None (no recommendation)."""
    rec = None
    if answer:
        itype, count, usd = answer
        rec = RecordedRecommendation(
            candidate_id=f"c01-{itype.replace('.', '-')}",
            instance_type=itype,
            instance_count=count,
            usd_per_hour=usd,
            usd_per_hour_per_instance=usd / count,
            price_source="bundled AWS price snapshot (2026)",
        )
    return RunRecord(
        model_key="arn:aws:sagemaker:us-east-1:123456789012:model-package-group/fraud-models",
        run_id=run_id,
        finished_at=T0 + timedelta(days=day),
        mode="aws",
        region="us-east-1",
        request_name="fraud",
        request_hash=request,
        model=PACKAGE,
        traffic={"min_rps": 500, "max_rps": 800},
        sla={"percentile": "p95", "milliseconds": 100},
        recommendation=rec,
        candidates=candidates or [],
        artifacts={"result": f"s3://b/runs/{run_id}/result.json", "report": f"s3://b/runs/{run_id}/report.html"},
    )


# --- change detection on recorded history ----------------------------------------------------------------------------


def test_the_first_run_of_a_model_is_no_change() -> None:
    assert detect_change(None, record("r1", ("ml.c5.xlarge", 4, 0.816))) is None


@pytest.mark.parametrize(
    ("before", "after", "reasons"),
    [
        (("ml.c5.xlarge", 4, 0.816), ("ml.c5.xlarge", 4, 0.816), None),  # the same answer
        (("ml.c5.xlarge", 4, 0.816), ("ml.c5.xlarge", 4, 0.8976), None),  # +10 %: not more than the threshold
        (("ml.c5.xlarge", 4, 0.816), ("ml.c5.xlarge", 4, 0.7344), None),  # -10 %
        (("ml.c5.xlarge", 4, 0.816), ("ml.c5.xlarge", 4, 0.9), ["hourly_cost"]),  # +10.3 %
        (("ml.c5.xlarge", 4, 0.816), ("ml.c5.xlarge", 4, 0.7), ["hourly_cost"]),  # -14.2 %
        (("ml.c5.xlarge", 4, 0.816), ("ml.c6i.xlarge", 4, 0.816), ["instance_type"]),
        (("ml.c5.xlarge", 4, 0.816), ("ml.c5.xlarge", 5, 0.85), ["instance_count"]),  # +4 %: the count decides
        (("ml.c5.xlarge", 4, 0.816), ("ml.c6i.2xlarge", 2, 1.2), ["instance_type", "instance_count", "hourly_cost"]),
        (("ml.c5.xlarge", 4, 0.816), None, ["recommended"]),  # no candidate meets the target any more
        (None, ("ml.c5.xlarge", 4, 0.816), ["recommended"]),
        (None, None, None),
    ],
)
def test_changes_are_detected_against_the_previous_run(
    before: tuple[str, int, float] | None, after: tuple[str, int, float] | None, reasons: list[str] | None
) -> None:
    change = detect_change(record("r1", before), record("r2", after, day=7))
    if reasons is None:
        assert change is None
        return
    assert change is not None and change.reasons == reasons
    assert (change.before.run_id, change.after.run_id) == ("r1", "r2")
    assert change.threshold_percent == 10.0 and change.request_changed is False


def test_the_threshold_is_the_callers() -> None:
    before, after = record("r1", ("ml.c5.xlarge", 4, 0.80)), record("r2", ("ml.c5.xlarge", 4, 0.84), day=1)
    assert detect_change(before, after) is None  # +5 %
    change = detect_change(before, after, threshold_percent=2)
    assert change is not None and change.reasons == ["hourly_cost"] and change.cost_change_percent == 5.0


def test_a_changed_request_is_said() -> None:
    change = detect_change(
        record("r1", ("ml.c5.xlarge", 4, 0.816)), record("r2", ("ml.c5.xlarge", 8, 1.632), request="b" * 64)
    )
    assert change is not None and change.request_changed is True


# --- model keys -------------------------------------------------------------------------------------------------------


def _request(aws_request: Callable[..., RightsizingRequest], **fields: Any) -> RightsizingRequest:
    return aws_request([{"instance_type": "ml.c5.xlarge"}], **fields)


def test_a_versioned_package_joins_its_groups_history(aws_request: Callable[..., RightsizingRequest]) -> None:
    request = _request(aws_request, model={"type": "model_package", "model_package_arn": PACKAGE})
    assert model_key(request) == "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/fraud-models"
    newer = _request(aws_request, model={"type": "model_package", "model_package_arn": PACKAGE[:-1] + "8"})
    assert model_key(newer) == model_key(request)


def test_other_sources_and_an_explicit_key(aws_request: Callable[..., RightsizingRequest]) -> None:
    marketplace = "arn:aws:sagemaker:us-east-1:123456789012:model-package/resnet-50-abc123"
    assert model_key(_request(aws_request, model={"type": "model_package", "model_package_arn": marketplace})) == (
        marketplace
    )
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"
    container = {"type": "container", "image": image, "model_data_url": "s3://m/model.tar.gz"}
    assert model_key(_request(aws_request, model=container)) == f"{image},s3://m/model.tar.gz"
    assert model_key(_request(aws_request, model=container, history={"model_key": "fraud"})) == "fraud"


def test_a_local_key_always_starts_with_local(demo_request: dict[str, Any]) -> None:
    assert model_key(RightsizingRequest.model_validate(demo_request)) == "local/fraud-classifier"
    explicit = RightsizingRequest.model_validate({**demo_request, "history": {"model_key": "fraud"}})
    assert model_key(explicit) == "local/fraud"


def test_history_settings_are_validated_naming_the_field(demo_request: dict[str, Any]) -> None:
    from rightsizing.exceptions import InvalidRequest
    from rightsizing.models.request import parse_request

    with pytest.raises(InvalidRequest) as refused:
        parse_request({**demo_request, "history": {"model_key": "has space", "change_threshold_percent": 0}})
    assert set(refused.value.fields) == {"history.model_key", "history.change_threshold_percent"}


def test_equal_requests_hash_equal(demo_request: dict[str, Any]) -> None:
    one = RightsizingRequest.model_validate(demo_request)
    assert request_hash(one) == request_hash(RightsizingRequest.model_validate(one.model_dump(mode="json")))
    other = RightsizingRequest.model_validate({**demo_request, "max_error_rate": 0.02})
    assert request_hash(other) != request_hash(one)


# --- comparison -------------------------------------------------------------------------------------------------------


def _capacity(cid: str, itype: str, rps: float | None, count: int | None, unit: float | None) -> CandidateCapacity:
    return CandidateCapacity(
        candidate_id=cid,
        instance_type=itype,
        status="succeeded" if rps else "failed",
        sustainable_rps=rps,
        instances_for_target=count,
        usd_per_hour_per_instance=unit,
        usd_per_hour_for_target=count * unit if count and unit else None,
    )


def test_compare_matches_candidates_by_type_not_by_their_place_in_the_plan() -> None:
    a = record(
        "r1",
        ("ml.c5.xlarge", 4, 0.816),
        candidates=[_capacity("c01-ml-c5-xlarge", "ml.c5.xlarge", 210, 4, 0.204),
                    _capacity("c02-ml-m5-xlarge", "ml.m5.xlarge", None, None, 0.23)],
    )  # fmt: skip
    b = record(
        "r2",
        ("ml.c6i.xlarge", 3, 0.612),
        day=30,
        candidates=[_capacity("c01-ml-c6i-xlarge", "ml.c6i.xlarge", 290, 3, 0.204),
                    _capacity("c02-ml-c5-xlarge", "ml.c5.xlarge", 200, 4, 0.17)],
    )  # fmt: skip
    comparison = compare_runs(a, b)
    assert comparison.changed == ["instance_type", "instance_count", "hourly_cost"]
    assert comparison.cost_change_percent == -25.0 and comparison.same_model
    rows = {row.instance_type: row for row in comparison.candidates}
    assert list(rows) == ["ml.c5.xlarge", "ml.m5.xlarge", "ml.c6i.xlarge"]
    c5 = rows["ml.c5.xlarge"]
    assert c5.sustainable_rps == (210, 200) and c5.sustainable_rps_change_percent == -4.76
    assert c5.price_change_percent == -16.67 and c5.instances_for_target == (4, 4)
    assert rows["ml.m5.xlarge"].status == ("failed", None)
    assert rows["ml.c6i.xlarge"].status == (None, "succeeded")
