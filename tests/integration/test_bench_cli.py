"""``rightsize bench URL``: the pipeline's load test against any local SageMaker-contract server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from ground_truth import BackgroundServer
from typer.testing import CliRunner

from rightsizing.models.result import LoadTestResult
from rightsizing.models.targets import LatencySla
from rightsizing_cli.bench import parse_sla
from rightsizing_cli.main import app


@pytest.fixture
def server_url(start_server: Callable[..., BackgroundServer]) -> str:
    return start_server(slots=2, service_seconds=0.010).url  # 2 slots x 10 ms: 200 RPS


def test_parse_sla_accepts_percentile_and_ms_within_the_requests_bounds() -> None:
    assert parse_sla("p95:100ms") == LatencySla(percentile="p95", milliseconds=100.0)
    assert parse_sla("P99:2.5ms") == LatencySla(percentile="p99", milliseconds=2.5)
    for bad, why in [
        ("p97:100ms", "sla.percentile|percentile"),
        ("p95:100", "expected <percentile>:<milliseconds>ms"),
        ("p95:0ms", r"milliseconds: must be at least 0\.1 \(got 0\.0\)"),
        ("p95:60001ms", r"milliseconds: must be at most 60000 \(got 60001\.0\)"),  # the request's own bound
        ("100ms", "expected <percentile>:<milliseconds>ms"),
    ]:
        with pytest.raises(typer.BadParameter, match=why):
            parse_sla(bad)


@pytest.mark.slow
def test_bench_measures_a_local_server_and_writes_artefacts(tmp_path: Path, server_url: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            server_url,
            "--sla",
            "p95:50ms",
            "--mode",
            "stepped",
            "--max-seconds",
            "15",
            "-o",
            str(tmp_path),
            "--payload",
            "1,2,3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "RPS within" in result.output
    (run_dir,) = list(tmp_path.iterdir())
    measured = LoadTestResult.model_validate_json((run_dir / "result.json").read_text())
    assert 0 < measured.sustainable_rps <= 200 * 1.05  # 2 slots x 10 ms: no more than 200 RPS exists
    assert (run_dir / "locust_report.html").is_file() and (run_dir / "trace.json").is_file()


def test_bench_refuses_a_non_loopback_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "http://192.0.2.10:8080", "--max-seconds", "15", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "the load test failed (exit 2)" in result.output


def test_bench_refuses_a_negative_confirmation_before_starting_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "http://127.0.0.1:9", "--confirm-seconds", "-1", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "confirm_seconds: must be at least 0 (got -1" in " ".join(result.output.split())
    assert not list(tmp_path.iterdir())  # no run folder, no job


@pytest.mark.slow
def test_bench_runs_distributed_workers(tmp_path: Path, server_url: str) -> None:
    args = ["bench", server_url, "--sla", "p95:50ms", "--mode", "stepped", "--workers", "2", "--max-seconds", "20"]
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path), "--payload", "1,2,3"])
    assert result.exit_code == 0, result.output
    (run_dir,) = list(tmp_path.iterdir())
    measured = LoadTestResult.model_validate_json((run_dir / "result.json").read_text())
    assert measured.probes and all(p.generators == 2 for p in measured.probes)
    assert 0 < measured.sustainable_rps <= 200 * 1.05


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-workers", "x"], "expected a whole number or 'auto'"),
        (["--workers", "3", "--max-workers", "2"], "max_workers: 2 is below workers (3)"),
        (["--mode", "ramp", "--workers", "2"], "single-process classic baseline"),
    ],
)
def test_bench_refuses_bad_worker_options(tmp_path: Path, options: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["bench", "http://127.0.0.1:9", *options, "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())  # rich wraps text in a box
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # refused before anything was written
