"""A serverless candidate beside an instance candidate, through the real ASL executed locally.

The local SageMaker validates CreateEndpointConfig against botocore's model and serves the serverless endpoint with
its concurrency cap (429 beyond it) and a cold start (local.serverless-2gb: 0.5 s on the first request).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import Proxy, assert_everything_deleted, by_id, run

from rightsizing_local.profiles import SERVERLESS_PROFILES

pytestmark = pytest.mark.slow  # a whole local run or capacity search per test: `make test-slow`


class RecordsVariants(Proxy):
    """Keeps the ProductionVariants each CreateEndpointConfig received from the state machine."""

    variants: dict[str, list[dict[str, Any]]]

    def create_endpoint_config(self, **kwargs: Any) -> dict:
        self.variants[kwargs["EndpointConfigName"]] = kwargs["ProductionVariants"]
        return self.inner.create_endpoint_config(**kwargs)


def test_serverless_and_instance_candidates_are_measured_and_compared(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [
        {"serverless": {"memory_mb": 2048, "max_concurrency": 2}},
        {"instance_type": "local.small"},
    ]
    fast_request["traffic"] = {"min_rps": 15}
    fast_request["sla"] = {"percentile": "p95", "milliseconds": 200}
    recorder: dict[str, list[dict[str, Any]]] = {}

    def wrap(clients: dict) -> dict:
        proxy = RecordsVariants(clients["sagemaker"])
        proxy.variants = recorder
        return {**clients, "sagemaker": proxy}

    result = run(tmp_path, fast_request, wrap)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    variants = {name[-3:]: v for name, v in recorder.items()}
    assert variants["c01"] == [
        {"VariantName": "AllTraffic", "ModelName": variants["c01"][0]["ModelName"], "ServerlessConfig": {
            "MemorySizeInMB": 2048, "MaxConcurrency": 2}}
    ]  # fmt: skip
    assert variants["c02"][0]["InstanceType"] == "local.small" and "ServerlessConfig" not in variants["c02"][0]

    candidates = by_id(result)
    serverless = candidates["c01-local-serverless-2gb-c2"]
    assert serverless.instance_type == "local.serverless-2gb-c2"
    assert serverless.status in ("succeeded", "lower_bound"), serverless.failure_reason
    cold = serverless.cold_start
    setup_ms = SERVERLESS_PROFILES[2048].cold_start_seconds * 1000
    assert cold is not None and cold.first_status == 200
    assert cold.first_ms >= setup_ms and cold.warm_ms is not None and cold.warm_ms < setup_ms
    assert candidates["c02-local-small"].cold_start is None
    # Measured cost: a serverless endpoint bills per use, so none of its endpoint seconds count as instance time.
    assert serverless.usage is not None and serverless.usage.endpoint_instances == 0
    small_usage = candidates["c02-local-small"].usage
    assert small_usage is not None and small_usage.endpoint_instances == 1

    # The search never offered more closed-loop users than the endpoint's MaxConcurrency.
    job_dir = result.run_dir / "candidates" / "c01-local-serverless-2gb-c2"
    trace = json.loads((job_dir / "trace.json").read_text())
    assert trace and max(p["users"] for p in trace) <= 2

    assert result.result is not None
    rec = result.result.recommendation
    assert rec is not None, result.result.no_recommendation_reason
    priced = {rec.candidate_id: rec.usd_per_hour} | {a.candidate_id: a.usd_per_hour for a in rec.alternatives}
    assert set(priced) == set(candidates) and all(usd is not None for usd in priced.values())
    sizing = rec.serverless or next(a.serverless for a in rec.alternatives if a.serverless)
    assert sizing is not None and sizing.target_rps == 15 and sizing.cold_start_ms == cold.first_ms
    # The per-use cost at the target, recomputed from the figures it reports.
    expected = 15 * sizing.seconds_per_request * 2 * sizing.usd_per_gb_second * 3600
    assert sizing.compute_usd_per_hour == pytest.approx(expected, rel=1e-3)  # both figures are rounded
    report = (result.run_dir / "report.html").read_text()
    assert 'id="serverless"' in report
    assert_everything_deleted(result)
