"""Repeated trials end to end: the real ASL run locally with ``load.trials: 3``, and ``rightsize bench --trials``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from ground_truth import BackgroundServer
from pipeline_helpers import assert_everything_deleted, by_id, run
from typer.testing import CliRunner

from rightsizing.models.result import LoadTestResult
from rightsizing_cli.main import app

pytestmark = pytest.mark.slow  # a whole local run or capacity search per test: `make test-slow`


def test_a_run_with_three_trials_reports_an_interval_everywhere(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}]
    fast_request["traffic"] = {"min_rps": 50}
    fast_request["load"]["trials"] = 3
    fast_request["limits"]["max_seconds_per_candidate"] = 36  # 3 stepped searches of ~5 s each, 12 s apiece at most
    fast_request["sizing"] = {"size_on": "lower_bound"}
    result = run(tmp_path, fast_request)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidate = by_id(result)["c01-local-small"]
    stats = candidate.trials
    assert stats is not None and stats.requested == 3 and len(stats.trials) == 3
    # On a busy host a 1-s stepped trial can be generator-limited before any step is certified: it is left out.
    assert stats.measured >= 2, stats.note
    assert stats.mean_rps is not None and stats.ci95_low_rps is not None and stats.ci95_high_rps is not None
    assert stats.ci95_low_rps <= stats.mean_rps <= stats.ci95_high_rps
    assert candidate.sustainable_rps == stats.mean_rps
    assert stats.min_rps == min(t.sustainable_rps for t in stats.trials if t.measured) > 0
    document = json.loads((result.run_dir / "result.json").read_text())
    assert document["candidates"][0]["trials"]["ci95_low_rps"] == stats.ci95_low_rps
    assert result.result is not None
    recommendation = result.result.recommendation
    if stats.ci95_low_rps > 0:
        assert recommendation is not None and recommendation.size_on == "lower_bound"
        assert recommendation.sustainable_rps_per_instance == stats.ci95_low_rps
    else:  # trials that disagree this much (a busy host) leave no positive rate to size on, and it says so
        assert recommendation is None
        assert "disagree too much" in (result.result.no_recommendation_reason or "")

    (row,) = csv.DictReader(io.StringIO((result.run_dir / "results.csv").read_text()))
    assert row["trials"] == "3" and float(row["ci95_low_rps"]) == stats.ci95_low_rps
    assert float(row["ci95_high_rps"]) == stats.ci95_high_rps and len(row["trial_rps"].split(";")) == 3
    assert row["trials_measured"] == str(stats.measured)

    page = (result.run_dir / "report.html").read_text()
    assert '<h2 id="trials">Repeated trials</h2>' in page
    assert f"[{stats.ci95_low_rps:,.1f}, {stats.ci95_high_rps:,.1f}]" in page

    trace = json.loads((result.run_dir / "candidates" / "c01-local-small" / "trace.json").read_text())
    assert sorted({p["trial"] for p in trace}) == [1, 2, 3]
    assert [p["index"] for p in trace] == list(range(len(trace)))
    assert_everything_deleted(result)


def test_bench_prints_each_trial_and_the_interval(
    tmp_path: Path, start_server: Callable[..., BackgroundServer]
) -> None:
    url = start_server(slots=2, service_seconds=0.010).url  # 2 slots x 10 ms: 200 RPS
    args = ["bench", url, "--sla", "p95:50ms", "--mode", "stepped", "--trials", "2", "--max-seconds", "24"]
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path), "--payload", "1,2,3"])
    assert result.exit_code == 0, result.output
    (run_dir,) = list(tmp_path.iterdir())
    measured = LoadTestResult.model_validate_json((run_dir / "result.json").read_text())
    stats = measured.trials
    assert stats is not None and [t.trial for t in stats.trials] == [1, 2] and stats.measured == 2
    assert measured.sustainable_rps == stats.mean_rps and 0 < measured.sustainable_rps <= 200 * 1.05
    output = " ".join(result.output.split())
    assert "trial 1 of 2" in output and "trial 2 of 2" in output
    assert f"95 % interval [{stats.ci95_low_rps:.1f}, {stats.ci95_high_rps:.1f}]" in output


def test_bench_refuses_trials_that_cannot_fit_before_starting_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["bench", "http://127.0.0.1:9", "--trials", "5", "--max-seconds", "30", "-o", str(tmp_path)]
    )
    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())  # rich draws the error in a box
    assert "5 trials share --max-seconds 30: each needs at least 10 s" in words
    assert not list(tmp_path.iterdir())
