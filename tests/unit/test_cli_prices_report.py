"""``rightsize prices`` and ``rightsize report``."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from rightsizing.models.result import CandidateResult, RunResult
from rightsizing.models.targets import LatencySla, TrafficTarget
from rightsizing.store import local_uri, put_json
from rightsizing_cli.main import app
from rightsizing_cli.output import print_result
from rightsizing_cli.report import run_uri_of

runner = CliRunner()


def test_prices_offline_names_the_snapshot_and_its_date() -> None:
    result = runner.invoke(app, ["prices", "ml.g4dn.xlarge", "ml.c5.large", "--offline"])
    assert result.exit_code == 0, result.output
    assert "0.7360" in result.output and "0.1020" in result.output
    assert "snapshot" in result.output and "2026" in result.output


def test_prices_exit_non_zero_when_one_is_unknown() -> None:
    result = runner.invoke(app, ["prices", "ml.c5.large", "ml.zz9.large", "--offline", "--region", "us-east-1"])
    assert result.exit_code == 1
    assert "0.1020" in result.output and "no bundled price for ml.zz9.large" in result.output


def _run(candidate: CandidateResult, no_recommendation_reason: str) -> RunResult:
    """A local run of one candidate that recommended nothing."""
    return RunResult(
        run_id="r1",
        mode="local",
        region="us-east-1",
        traffic=TrafficTarget(min_rps=300),
        sla=LatencySla(percentile="p95", milliseconds=50),
        max_error_rate=0.01,
        candidates=[candidate],
        recommendation=None,
        no_recommendation_reason=no_recommendation_reason,
    )


def _write_run(run_dir: Path) -> None:
    failed = CandidateResult(
        candidate_id="c01-local-small",
        instance_type="local.small",
        status="failed",
        failure_reason="LoadTestFailed: crashed",
    )
    run = _run(failed, "no candidate could be benchmarked")
    put_json(local_uri(run_dir / "result.json"), run.model_dump(mode="json"))


def test_report_regenerates_the_html_from_a_run_folder(tmp_path: Path) -> None:
    _write_run(tmp_path / "r1")
    result = runner.invoke(app, ["report", str(tmp_path / "r1")])
    assert result.exit_code == 0, result.output
    report = Path(result.output.strip())
    assert report == tmp_path / "r1" / "report.html" and report.is_file()
    assert "no candidate could be benchmarked" in report.read_text()
    assert (tmp_path / "r1" / "endpoint-snippet.yaml").is_file()


def test_report_rejects_a_folder_without_a_run(tmp_path: Path) -> None:
    assert runner.invoke(app, ["report", str(tmp_path / "none")]).exit_code == 2
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no artefact" in result.output


def test_report_accepts_paths_and_store_uris(tmp_path: Path) -> None:
    assert run_uri_of("s3://bucket/runs/r1/") == "s3://bucket/runs/r1"
    assert run_uri_of(str(tmp_path / "result.json")) == local_uri(tmp_path)


def test_the_console_table_says_lower_bound_and_at_least() -> None:
    floor = CandidateResult(
        candidate_id="c01-local-small",
        instance_type="local.small",
        status="lower_bound",
        sustainable_rps=470.0,
        saturation_rps=540.0,
        generator_limited=True,
    )
    run = _run(floor, "not priced")
    out = io.StringIO()
    print_result(Console(file=out, width=200, color_system=None), run, Path("/tmp/r1"))
    text = out.getvalue()
    assert "lower bound (generator-limited)" in text and "≥ 470.0" in text and "failed" not in text
