"""The real ASL definition executed locally: real model servers, real Locust, faults injected at the fakes.

Every test asserts that the state machine itself deleted every endpoint, endpoint config and model it created.
"""

from __future__ import annotations

import _thread
import json
import os
from pathlib import Path
from typing import Any

import psutil
import pytest

from rightsizing.models.request import RightsizingRequest
from rightsizing_local.fake_sagemaker import client_error
from rightsizing_local.run import LocalRun, run_local

CREATE_AND_DELETE = {
    "CreateModel": "DeleteModel",
    "CreateEndpointConfig": "DeleteEndpointConfig",
    "CreateEndpoint": "DeleteEndpoint",
}


class Proxy:
    """Passes every call through to the real fake, except those a test overrides."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _run(tmp_path: Path, document: dict[str, Any], wrap: Any = None) -> LocalRun:
    return run_local(RightsizingRequest.model_validate(document), tmp_path, wrap_clients=wrap)


def _assert_everything_deleted(run: LocalRun) -> None:
    assert run.leftovers == {"models": [], "endpoint_configs": [], "endpoints": []}
    created = [(op, name) for op, name in run.sagemaker_calls if op in CREATE_AND_DELETE]
    for op, name in created:
        assert (CREATE_AND_DELETE[op], name) in run.sagemaker_calls, f"{op} {name} was never undone"
    assert run.process_groups, "expected servers/generators to have been started"
    _assert_no_process_left(run.process_groups)


def _assert_no_process_left(groups: list[int]) -> None:
    alive = [p.pid for p in psutil.process_iter() if _pgid(p.pid) in groups]
    assert not alive, f"processes left behind: {alive}"


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _by_id(run: LocalRun) -> dict[str, Any]:
    assert run.result is not None
    return {c.candidate_id: c for c in run.result.candidates}


def test_success_path_measures_recommends_and_cleans_up(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]
    fast_request["traffic"] = {"min_rps": 150}
    run = _run(tmp_path, fast_request)

    assert run.execution.status == "SUCCEEDED", run.execution.cause
    first_states = ["PlanRun", "BenchmarkCandidates", "CreateModel", "CreateEndpointConfig"]
    assert run.execution.entered_states()[:4] == first_states
    assert {"RunLoadTest", "CollectMetrics", "DeleteModel", "Recommend", "PublishResult"} <= set(
        run.execution.entered_states()
    )
    candidate = _by_id(run)["c01-local-small"]
    assert candidate.status == "succeeded"
    assert candidate.sustainable_rps and candidate.sustainable_rps > 10
    assert candidate.requests and candidate.requests > 50
    assert "CPUUtilization" in candidate.server_metrics
    recommendation = run.result.recommendation  # type: ignore[union-attr]
    assert recommendation is not None and recommendation.instance_type == "local.small"
    assert recommendation.instance_count >= 2  # ~150 RPS per worker at best on this machine: one cannot be enough
    assert recommendation.capacity_rps >= 150
    for name in ("result.json", "results.csv", "request.json", "candidates/c01-local-small/locust_stats.csv",
                 "candidates/c01-local-small/locust_stats_history.csv", "candidates/c01-local-small/locust_report.html",
                 "candidates/c01-local-small/trace.json"):
        assert (run.run_dir / name).is_file(), name
    assert run.events and run.events[0]["Detail"]["instance_type"] == "local.small"
    _assert_everything_deleted(run)


def test_failed_deploy_marks_only_that_candidate_failed(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]

    class QuotaZeroForMedium(Proxy):
        def create_endpoint(self, **kwargs: Any) -> dict:
            if kwargs["EndpointName"].endswith("-c02"):
                self.inner.calls.append(("CreateEndpoint", kwargs["EndpointName"]))
                raise client_error(
                    "CreateEndpoint",
                    "The account-level service limit 'local.medium for endpoint usage' is 0 Instances",
                    "ResourceLimitExceeded",
                )
            return self.inner.create_endpoint(**kwargs)

    run = _run(tmp_path, fast_request, lambda c: {**c, "sagemaker": QuotaZeroForMedium(c["sagemaker"])})

    assert run.execution.status == "SUCCEEDED", run.execution.cause
    candidates = _by_id(run)
    assert candidates["c01-local-small"].status == "succeeded"
    failed = candidates["c02-local-medium"]
    assert failed.status == "failed"
    assert failed.failure_reason is not None and "service limit" in failed.failure_reason
    assert run.result is not None and run.result.recommendation is not None
    assert run.result.recommendation.instance_type == "local.small"
    assert any(a.candidate_id == "c02-local-medium" and "benchmark failed" in a.reason
               for a in run.result.recommendation.alternatives)
    name = "-c02"
    deletes = [op for op, n in run.sagemaker_calls if n.endswith(name) and op.startswith("Delete")]
    assert deletes == ["DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"]
    _assert_everything_deleted(run)


def test_endpoint_that_goes_failed_is_reported_and_deleted(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    class BrokenArtefact(Proxy):
        def create_model(self, **kwargs: Any) -> dict:
            container = {**kwargs["PrimaryContainer"], "ModelDataUrl": (tmp_path / "missing.joblib").as_uri()}
            return self.inner.create_model(**{**kwargs, "PrimaryContainer": container})

    run = _run(tmp_path, fast_request, lambda c: {**c, "sagemaker": BrokenArtefact(c["sagemaker"])})

    assert run.execution.status == "SUCCEEDED", run.execution.cause
    failed = _by_id(run)["c01-local-small"]
    assert failed.status == "failed"
    assert failed.failure_reason is not None and failed.failure_reason.startswith("EndpointFailed")
    assert "model server exited" in failed.failure_reason
    assert "RunLoadTest" not in run.execution.entered_states()
    assert run.result is not None and run.result.recommendation is None
    assert "could be benchmarked" in (run.result.no_recommendation_reason or "")
    _assert_everything_deleted(run)


def test_load_test_that_exits_non_zero_fails_its_candidate(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    class UnreadableJob(Proxy):
        def run_task(self, **kwargs: Any) -> dict:
            overrides = json.loads(json.dumps(kwargs["Overrides"]))
            for item in overrides["ContainerOverrides"][0]["Environment"]:
                if item["Name"] == "JOB_URI":
                    item["Value"] = (tmp_path / "no-such-job.json").as_uri()
            return self.inner.run_task(**{**kwargs, "Overrides": overrides})

    run = _run(tmp_path, fast_request, lambda c: {**c, "ecs": UnreadableJob(c["ecs"])})

    assert run.execution.status == "SUCCEEDED", run.execution.cause
    failed = _by_id(run)["c01-local-small"]
    assert failed.status == "failed"
    assert failed.failure_reason is not None and failed.failure_reason.startswith("LoadTestFailed")
    _assert_everything_deleted(run)


def test_invalid_request_fails_at_plan_and_creates_nothing(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.nonexistent"}]
    run = _run(tmp_path, fast_request)
    assert run.execution.status == "FAILED"
    assert run.execution.error == "InvalidRequest"
    assert "unknown local profile 'local.nonexistent'" in (run.execution.cause or "")
    assert run.sagemaker_calls == []


def test_ctrl_c_stops_every_server_and_generator(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]
    seen: list[str] = []

    def progress(key: str, stage: str, detail: str) -> None:
        seen.append(stage)
        if stage == "probe" and seen.count("probe") == 1:
            _thread.interrupt_main()  # exactly what Ctrl-C does: KeyboardInterrupt in the main thread

    fakes: dict[str, Any] = {}

    def keep(clients: dict[str, Any]) -> dict[str, Any]:
        fakes.update(clients)
        return clients

    with pytest.raises(KeyboardInterrupt):
        run_local(RightsizingRequest.model_validate(fast_request), tmp_path, progress=progress, wrap_clients=keep)
    assert "in_service" in seen and "probe" in seen
    groups = fakes["sagemaker"].process_groups + fakes["ecs"].process_groups
    assert len(groups) == 2  # one model server, one load generator
    _assert_no_process_left(groups)
