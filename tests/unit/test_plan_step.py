"""Plan step: validates, names every resource within SageMaker's limits, writes jobs, creates nothing on error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rightsizing.exceptions import BudgetExceeded, InvalidRequest
from rightsizing.models.plan import LoadTestJob, candidate_id_for, resource_name
from rightsizing.models.targets import LatencySla
from rightsizing.payload_bodies import bodies_from_document
from rightsizing.steps.plan import PlanInput, plan_run
from rightsizing.store import get_json, local_uri
from rightsizing_local.backend import local_backend
from rightsizing_local.fake_sagemaker import LocalSageMaker

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def _plan(tmp_path: Path, request: dict[str, Any], run_id: str = "local-demo-20261123-101010-abcd"):
    backend = local_backend(LocalSageMaker(tmp_path / "local"))
    event = PlanInput(request=request, run_id=run_id, artifacts_uri=local_uri(tmp_path))
    return plan_run(event, backend)


def test_plan_names_and_tags_every_candidate(tmp_path: Path, demo_request: dict) -> None:
    plan = _plan(tmp_path, demo_request)
    assert [c.candidate_id for c in plan.candidates] == ["c01-local-small", "c02-local-medium", "c03-local-large"]
    for candidate in plan.candidates:
        for name in (candidate.model_name, candidate.endpoint_config_name, candidate.endpoint_name):
            assert SAGEMAKER_NAME.match(name) and name.startswith("rightsize-")
        tags = {t["Key"]: t["Value"] for t in candidate.tags}
        assert tags["rightsizing:run-id"] == plan.run_id
        assert tags["rightsizing:candidate-id"] == candidate.candidate_id
        assert tags["project"] == "rightsizing-demo"
        assert candidate.poll_seconds == 1  # local default: no 30 s waits on this machine
        assert candidate.container["ModelDataUrl"].startswith("file://")


def test_plan_writes_request_payloads_and_jobs(tmp_path: Path, demo_request: dict) -> None:
    plan = _plan(tmp_path, demo_request)
    job = LoadTestJob.model_validate(get_json(plan.candidates[0].job_uri))
    assert job.endpoint_name == plan.candidates[0].endpoint_name
    assert job.sla == LatencySla(percentile="p95", milliseconds=50)
    document = get_json(job.payloads_uri)
    bodies = bodies_from_document(document)
    assert len(bodies) == 4  # three inline samples + one file
    assert bodies[0] == demo_request["payloads"]["samples"][0].encode()
    assert bodies[-1].startswith(b"0.3121,")
    assert document["names"][-1].endswith("payloads/fraud-row.csv")


def test_invalid_request_creates_nothing(tmp_path: Path, demo_request: dict) -> None:
    demo_request["traffic"] = {"min_rps": 0}
    with pytest.raises(InvalidRequest, match=r"traffic\.min_rps"):
        _plan(tmp_path, demo_request)
    assert not (tmp_path / "runs").exists()


def test_unknown_local_profile_is_named(tmp_path: Path, demo_request: dict) -> None:
    demo_request["candidates"] = [{"instance_type": "local.huge"}]
    with pytest.raises(InvalidRequest, match=r"candidates\.0\.instance_type: unknown local profile 'local\.huge'"):
        _plan(tmp_path, demo_request)


def test_worker_tasks_are_refused_locally_before_anything_is_written(tmp_path: Path, demo_request: dict) -> None:
    demo_request["load"] = {"workers": 2, "worker_placement": "tasks"}
    with pytest.raises(InvalidRequest, match=r"load\.worker_placement: 'tasks' .* local runs use 'processes'"):
        _plan(tmp_path, demo_request)
    assert not (tmp_path / "runs").exists()


def test_budget_is_checked_before_anything_is_written(tmp_path: Path, demo_request: dict) -> None:
    demo_request["budget_usd"] = 0.01
    with pytest.raises(BudgetExceeded, match=r"no candidate fits budget_usd \$0\.01"):
        _plan(tmp_path, demo_request)
    assert not (tmp_path / "runs").exists()


def test_a_budget_for_two_of_three_candidates_skips_the_third_with_its_reason(
    tmp_path: Path, fast_request: dict
) -> None:
    # Worst cases (an hour's wait for InService + 90 s start + 12 s test + 2 min deletion) at the notional prices:
    # local.small $0.05/h -> $0.053, local.medium $0.10/h -> $0.106, local.large $0.20/h -> $0.212.
    fast_request["budget_usd"] = 0.16
    plan = _plan(tmp_path, fast_request)
    assert [c.skip_reason is None for c in plan.candidates] == [True, True, False]
    assert [c.worst_usd for c in plan.candidates] == pytest.approx([0.0531, 0.1062, 0.2123], abs=1e-4)
    reason = plan.candidates[2].skip_reason or ""
    assert "worst case $0.21 on top of the $0.16 committed" in reason and "budget_usd $0.16" in reason
    # A skipped candidate's job is still written (its folder says what it would have run); nothing is created.
    assert LoadTestJob.model_validate(get_json(plan.candidates[2].job_uri)).candidate_id == "c03-local-large"


def test_resource_names_stay_within_63_chars_for_long_run_ids() -> None:
    name = resource_name("x" * 80 + "-e3b0c442-98fc-1c14-9afb-f4c8996fb924", 40)
    assert len(name) <= 63 and SAGEMAKER_NAME.match(name)


def test_candidate_ids_distinguish_environment_variants() -> None:
    a = candidate_id_for(1, "ml.c6i.xlarge", {"OMP_NUM_THREADS": "1"})
    b = candidate_id_for(2, "ml.c6i.xlarge", {"OMP_NUM_THREADS": "2"})
    assert a.startswith("c01-ml-c6i-xlarge-") and b.startswith("c02-ml-c6i-xlarge-") and a[4:] != b[4:]
