"""`rightsize bench`'s result: a lower bound reads as one ("≥ X", and why), a measured figure as itself."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.result import LoadTestResult
from rightsizing.models.targets import LatencySla
from rightsizing_cli.bench import _print_result


def _printed(**fields: object) -> str:
    result = LoadTestResult.model_validate(
        {
            "candidate_id": "bench",
            "mode": "adaptive",
            "sla": LatencySla(milliseconds=100),
            "sustainable_rps": 101.3,
            "saturation_rps": 140.0,
            "latency_at_sustainable": LatencyPercentiles(p50=10, p90=20, p95=30, p99=40),
            "error_rate_at_sustainable": 0.0,
            "requests": 1200,
            "failures": 0,
            "test_seconds": 42.0,
            "stop_reason": "The load generator could not keep 140 RPS on schedule.",
            "probes": [],
            **fields,
        }
    )
    out = io.StringIO()
    _print_result(Console(file=out, width=200, color_system=None), result, Path("/tmp/bench"))
    return out.getvalue()


def test_a_lower_bound_is_shown_as_at_least_with_what_to_do() -> None:
    printed = _printed(lower_bound=True, generator_limited=True)
    assert "≥ 101.3" in printed
    assert "lower bound" in printed and "at least 101.3 RPS" in printed and "--max-workers" in printed


def test_a_measured_capacity_is_shown_as_is() -> None:
    printed = _printed()
    assert "101.3" in printed and "≥" not in printed and "lower bound" not in printed
