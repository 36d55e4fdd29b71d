"""The collect step: a load test's result becomes the candidate's, and a generator-limited one is never a capacity
of 0 reported as a success."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.plan import CandidatePlan
from rightsizing.models.result import LoadTestResult
from rightsizing.models.targets import LatencySla
from rightsizing.ports import Backend
from rightsizing.steps.collect import CollectInput, collect_metrics
from rightsizing.store import LocalStore, local_uri, put_json

EVENT = Path(__file__).parents[2] / "events" / "functions" / "collect_metrics.json"


class NoMetrics:
    def collect(self, candidate: CandidatePlan, start: float, end: float) -> dict[str, float]:
        return {}


def _collect(tmp_path: Path, **load: Any) -> Any:
    plan = json.loads(EVENT.read_text())["candidate"]
    plan["results_uri"] = local_uri(tmp_path / "c01")
    fields: dict[str, Any] = {
        "candidate_id": plan["candidate_id"],
        "mode": "adaptive",
        "sla": LatencySla(milliseconds=50),
        "sustainable_rps": 0.0,
        "saturation_rps": 540.0,
        "latency_at_sustainable": None,
        "error_rate_at_sustainable": None,
        "requests": 9000,
        "failures": 0,
        "test_seconds": 60.0,
        "stop_reason": "why it stopped",
        "probes": [],
    }
    result = LoadTestResult(**{**fields, **load})
    put_json(f"{plan['results_uri']}/result.json", result.model_dump(mode="json"))
    backend = Backend(
        mode="local",
        prices=None,  # type: ignore[arg-type]
        guard=None,  # type: ignore[arg-type]
        containers=None,  # type: ignore[arg-type]
        metrics=NoMetrics(),
        store=LocalStore(),
        default_poll_seconds=1,
    )
    return collect_metrics(CollectInput.model_validate({"candidate": plan}), backend)


def test_a_measured_capacity_succeeds(tmp_path: Path) -> None:
    result = _collect(
        tmp_path, sustainable_rps=300.0, latency_at_sustainable=LatencyPercentiles(p50=5, p90=9, p95=10, p99=20)
    )
    assert result.status == "succeeded" and result.sustainable_rps == 300.0 and not result.lower_bound


def test_a_generator_limited_figure_is_a_lower_bound_not_a_success(tmp_path: Path) -> None:
    result = _collect(tmp_path, sustainable_rps=470.0, generator_limited=True, lower_bound=True)
    assert result.status == "lower_bound" and result.lower_bound
    assert result.sustainable_rps == 470.0 and result.failure_reason is None


def test_a_generator_limit_before_any_pass_is_not_measured_never_zero(tmp_path: Path) -> None:
    result = _collect(tmp_path, sustainable_rps=0.0, generator_limited=True)
    assert result.status == "failed"
    assert result.failure_reason.startswith("not measured: the load generator was the limit")
    assert "why it stopped" in result.failure_reason
    assert result.artifacts["result"].endswith("/result.json")  # the trace and Locust report stay reachable


def test_a_test_that_ran_out_of_time_before_any_pass_is_not_measured(tmp_path: Path) -> None:
    result = _collect(tmp_path, sustainable_rps=0.0, lower_bound=True)
    assert result.status == "failed" and result.failure_reason.startswith("not measured: the test ended")
    floor = _collect(tmp_path, sustainable_rps=200.0, lower_bound=True)
    assert floor.status == "lower_bound" and not floor.generator_limited


@pytest.mark.parametrize("rps", [0.0, 12.5])
def test_an_endpoint_that_missed_the_sla_is_still_a_measured_result(tmp_path: Path, rps: float) -> None:
    assert _collect(tmp_path, sustainable_rps=rps).status == "succeeded"
