"""The plan step on the AWS backend's containers: what it hands to CreateModel, and which run ids it refuses
before writing anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO

from rightsizing.adapters.aws_backend import AwsContainers
from rightsizing.exceptions import InvalidRequest
from rightsizing.history_budget import HISTORY_EVENT_BUDGET
from rightsizing.models.plan import RUN_ID_TAG, RunPlan
from rightsizing.models.request import RightsizingRequest
from rightsizing.ports import Backend
from rightsizing.pricing.snapshot import SnapshotPrices
from rightsizing.steps.plan import PlanInput, plan_run
from rightsizing.store import LocalStore, local_uri

MARKETPLACE_PACKAGE = "arn:aws:sagemaker:us-east-1:865070037744:model-package/some-vendor-model-1-0"
ITERATION = json.loads((REPO / "statemachine" / "rightsizing.asl.json").read_text())["States"]["BenchmarkCandidates"][
    "ItemProcessor"
]["States"]


class AllowEverything:
    def check(self, request: RightsizingRequest) -> None:
        return None


def _plan(tmp_path: Path, request: RightsizingRequest, run_id: str = "fraud-20260101-120000") -> RunPlan:
    backend = Backend(
        mode="aws",
        prices=SnapshotPrices(),
        guard=AllowEverything(),
        containers=AwsContainers(),
        metrics=None,  # type: ignore[arg-type]
        store=LocalStore(),
        default_poll_seconds=30,
        history_event_budget=HISTORY_EVENT_BUDGET,
    )
    event = PlanInput(request=request.model_dump(mode="json"), run_id=run_id, artifacts_uri=local_uri(tmp_path))
    return plan_run(event, backend)


def test_marketplace_model_packages_get_network_isolation(
    tmp_path: Path, aws_request: Callable[..., RightsizingRequest]
) -> None:
    # SageMaker refuses CreateModel for an AWS Marketplace package unless EnableNetworkIsolation is true.
    model = {"type": "model_package", "model_package_arn": MARKETPLACE_PACKAGE, "network_isolation": True}
    plan = _plan(tmp_path, aws_request([{"instance_type": "ml.c5.xlarge"}], model=model))
    assert plan.candidates[0].network_isolation is True
    assert plan.candidates[0].container["ModelPackageName"] == MARKETPLACE_PACKAGE
    # The state machine passes it to CreateModel from the plan.
    assert ITERATION["CreateModel"]["Parameters"]["EnableNetworkIsolation.$"] == "$.candidate.network_isolation"


def test_network_isolation_is_off_unless_asked_for(
    tmp_path: Path, aws_request: Callable[..., RightsizingRequest]
) -> None:
    plan = _plan(tmp_path, aws_request([{"instance_type": "ml.c5.xlarge"}]))
    assert plan.candidates[0].network_isolation is False


@pytest.mark.parametrize(
    "run_id",
    [
        "has space",  # Step Functions: no white space
        "a:b",  # execution names: no ':'; it would also split the ECS task group
        "run/1",  # no '/'
        "run[1]",  # no brackets
        "run*",  # no wildcards
        "tab\tin",  # no control characters
        "é-accented",  # Step Functions allows it; ASCII only keeps names, tags and S3 keys simple
        "x" * 81,  # 80 characters at most
        "",
        "---",  # resource names need a letter or digit from the run id
    ],
)
def test_a_run_id_sagemaker_or_step_functions_would_refuse_is_refused_before_anything_is_written(
    tmp_path: Path, aws_request: Callable[..., RightsizingRequest], run_id: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _plan(tmp_path, aws_request([{"instance_type": "ml.c5.xlarge"}]), run_id=run_id)
    assert refused.value.fields == ("run_id",)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("run_id", ["fraud-xgboost-20250101-120000", "a", "v1.2_run=3+x@team", "x" * 80])
def test_run_ids_within_the_rules_are_tag_values_as_given(
    tmp_path: Path, aws_request: Callable[..., RightsizingRequest], run_id: str
) -> None:
    plan = _plan(tmp_path, aws_request([{"instance_type": "ml.c5.xlarge"}]), run_id=run_id)
    tags = {t["Key"]: t["Value"] for t in plan.candidates[0].tags}
    assert tags[RUN_ID_TAG] == run_id
    assert plan.candidates[0].model_name.startswith("rightsize-")


def test_a_plan_too_large_for_a_step_functions_state_is_refused_before_anything_is_written(
    tmp_path: Path, aws_request: Callable[..., RightsizingRequest]
) -> None:
    # Every resource carries the request's tags, so each of 40 plans repeats them: 40 x 40 x ~380 bytes.
    tags = {f"team-tag-{n:02d}": "v" * 256 for n in range(40)}
    grid = {"SAGEMAKER_MODEL_SERVER_WORKERS": [str(n) for n in range(1, 41)]}
    request = aws_request([{"instance_type": "ml.c5.xlarge", "environment_grid": grid}], tags=tags)
    with pytest.raises(InvalidRequest, match=r"above the 192 KB kept under Step Functions' 256 KB per state"):
        _plan(tmp_path, request)
    assert not (tmp_path / "runs").exists()
    # The same request with a few short tags fits.
    few = aws_request([{"instance_type": "ml.c5.xlarge", "environment_grid": grid}], tags={"team": "fraud"})
    assert len(_plan(tmp_path, few).candidates) == 40
