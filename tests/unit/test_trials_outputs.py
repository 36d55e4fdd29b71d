"""Repeated trials downstream: sizing on the mean or the interval's lower end, results.csv, the report, the console,
the estimate, and the plan's time check."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rightsizing.estimate import expected_test_seconds
from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.load import LoadSettings
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import SizingOptions
from rightsizing.models.result import CandidateResult, RunResult
from rightsizing.models.targets import TrafficTarget
from rightsizing.models.trials import TrialFigure
from rightsizing.ports import Backend
from rightsizing.pricing import SnapshotPrices
from rightsizing.recommender import recommend
from rightsizing.report.trials import TRIAL_CSV_COLUMNS
from rightsizing.stats import combine_trials
from rightsizing.steps.recommend import RecommendInput, recommend_run
from rightsizing.store import LocalStore, local_uri, put_json
from rightsizing_cli.output import print_result


def _candidate(cid: str, itype: str, figures: list[float], floors: frozenset[int] = frozenset()) -> CandidateResult:
    trials = [
        TrialFigure(
            trial=n,
            sustainable_rps=rps,
            saturation_rps=rps * 1.1,
            lower_bound=n in floors,
            test_seconds=30,
            stop_reason="bracketed",
        )
        for n, rps in enumerate(figures, 1)
    ]
    stats = combine_trials(trials, len(figures))
    return CandidateResult(
        candidate_id=cid,
        instance_type=itype,
        status="lower_bound" if stats.lower_bound else "succeeded",
        sustainable_rps=stats.mean_rps,
        saturation_rps=max(figures) * 1.1,
        latency_ms=LatencyPercentiles(p50=10, p90=20, p95=30, p99=40),
        error_rate=0.0,
        generator_limited=bool(floors),
        trials=stats,
    )


def _price(itype: str, usd: float) -> PriceQuote:
    return PriceQuote(instance_type=itype, region="us-east-1", usd_per_hour=usd, source="test prices")


# Mean 100, s = 10, n = 3: interval 100 ± 4.302653 x 10 / sqrt(3) = [75.159, 124.841].
NOISY = [90.0, 100.0, 110.0]


def test_size_on_lower_bound_sizes_on_the_intervals_lower_end() -> None:
    results = [_candidate("a", "ml.c5.large", NOISY)]
    prices: dict[str, PriceQuote | str] = {"a": _price("ml.c5.large", 0.1)}
    on_mean, _ = recommend(results, prices, TrafficTarget(min_rps=180))
    on_low, _ = recommend(results, prices, TrafficTarget(min_rps=180), SizingOptions(size_on="lower_bound"))
    assert on_mean is not None and on_low is not None
    assert on_mean.instance_count == 2 and on_mean.sustainable_rps_per_instance == 100.0  # 180 / (100 x 0.9) = 2
    assert on_mean.size_on == "mean" and "mean of 3 trials (95 % interval 75.2-124.8" in on_mean.rationale
    assert on_low.instance_count == 3 and on_low.sustainable_rps_per_instance == pytest.approx(75.159)  # 2.66 -> 3
    assert on_low.size_on == "lower_bound" and "lower end of the 95 % interval 75.2-124.8" in on_low.rationale
    assert on_low.capacity_rps == pytest.approx(3 * 75.159 * 0.9, abs=1e-3)
    assert on_low.autoscaling is not None
    assert on_low.autoscaling.invocations_per_instance_target == pytest.approx(75.159 * 0.5 * 60, abs=0.1)


def test_size_on_lower_bound_can_change_the_winner() -> None:
    # a: steady 100 (interval ~[97.5, 102.5]); b: noisy around 120 at the same price, its interval reaching 33.
    results = [
        _candidate("a", "ml.c5.large", [99.0, 100.0, 101.0]),
        _candidate("b", "ml.m5.large", [85.0, 120.0, 155.0]),
    ]
    prices: dict[str, PriceQuote | str] = {"a": _price("ml.c5.large", 0.1), "b": _price("ml.m5.large", 0.1)}
    on_mean, _ = recommend(results, prices, TrafficTarget(min_rps=110))
    on_low, _ = recommend(results, prices, TrafficTarget(min_rps=110), SizingOptions(size_on="lower_bound"))
    assert on_mean is not None and on_mean.candidate_id == "b" and on_mean.instance_count == 1
    assert on_low is not None and on_low.candidate_id == "a" and on_low.instance_count == 2


def test_an_interval_reaching_zero_cannot_be_sized_on() -> None:
    results = [_candidate("a", "ml.c5.large", [5.0, 100.0])]  # mean 52.5, interval [-551, 656]
    choice, why = recommend(
        results, {"a": _price("ml.c5.large", 0.1)}, TrafficTarget(min_rps=10), SizingOptions(size_on="lower_bound")
    )
    assert choice is None and why is not None and "disagree too much" in why and "a:" in why


def test_one_measured_trial_is_sized_on_its_figure_and_says_so() -> None:
    results = [_candidate("a", "ml.c5.large", [100.0, 0.0], floors=frozenset({2}))]
    assert results[0].trials is not None and results[0].trials.measured == 1
    choice, _ = recommend(
        results, {"a": _price("ml.c5.large", 0.1)}, TrafficTarget(min_rps=100), SizingOptions(size_on="lower_bound")
    )
    assert choice is not None and choice.sustainable_rps_per_instance == 100.0
    assert "one of 2 trials measured, so no interval" in choice.rationale


def _recommend_step(tmp_path: Path, demo_request: dict[str, Any]) -> Path:
    """The recommend step over one candidate measured 3 times and one measured once, sized on the lower end."""
    request = copy.deepcopy(demo_request)
    request["model"] = {"type": "container", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"}
    request["candidates"] = [{"instance_type": "ml.c5.large"}, {"instance_type": "ml.c5.xlarge"}]
    request["traffic"] = {"min_rps": 180}
    request["load"] = {"trials": 3}
    request["sizing"] = {"size_on": "lower_bound"}
    run_dir = tmp_path / "runs" / "r1"
    run_uri = local_uri(run_dir)
    put_json(f"{run_uri}/request.json", request)
    three = _candidate("c01-ml-c5-large", "ml.c5.large", NOISY, floors=frozenset({3}))
    once = _candidate("c02-ml-c5-xlarge", "ml.c5.xlarge", [230.0]).model_copy(update={"trials": None})
    outcomes = [
        {"candidate": {"candidate_id": c.candidate_id, "instance_type": c.instance_type}, "outcome": c}
        for c in (three, once)
    ]
    backend = Backend(
        mode="aws",
        prices=SnapshotPrices(),
        guard=None,
        containers=None,
        metrics=None,  # type: ignore[arg-type]
        store=LocalStore(),
        default_poll_seconds=1,
    )
    recommend_run(RecommendInput.model_validate({"run_id": "r1", "run_uri": run_uri, "outcomes": outcomes}), backend)
    return run_dir


def test_the_interval_is_in_result_json_results_csv_the_report_and_the_console(
    tmp_path: Path, demo_request: dict[str, Any]
) -> None:
    run_dir = _recommend_step(tmp_path, demo_request)
    document = json.loads((run_dir / "result.json").read_text())
    assert document["schema_version"] == "2.6"
    trials = document["candidates"][0]["trials"]
    assert (trials["mean_rps"], trials["ci95_low_rps"], trials["ci95_high_rps"]) == (100.0, 75.159, 124.841)
    assert (trials["min_rps"], trials["max_rps"], trials["measured"], trials["lower_bound"]) == (90, 110, 3, True)
    assert [t["sustainable_rps"] for t in trials["trials"]] == NOISY
    assert document["candidates"][1]["trials"] is None
    assert document["sizing"]["size_on"] == "lower_bound"

    rows = list(csv.DictReader(io.StringIO((run_dir / "results.csv").read_text())))
    assert set(TRIAL_CSV_COLUMNS) <= set(rows[0])
    assert (rows[0]["trials"], rows[0]["ci95_low_rps"], rows[0]["ci95_high_rps"]) == ("3", "75.159", "124.841")
    assert (rows[0]["sustainable_rps_mean"], rows[0]["sustainable_rps_std"]) == ("100.0", "10.0")
    assert rows[0]["trial_rps"] == "90;100;>=110"  # trial 3 was a floor
    assert rows[1]["trials"] == "" and rows[1]["ci95_low_rps"] == ""

    page = (run_dir / "report.html").read_text()
    assert '<h2 id="trials">Repeated trials</h2>' in page
    assert "≥ 100.0 [75.2, 124.8]" in page  # the trials section and the candidates table
    assert "lower end of the 95 % interval</strong> (sizing.size_on lower_bound)" in page
    assert "90.0–110.0" in page and "90.0, 100.0, ≥ 110.0" in page

    console = Console(record=True, width=200)
    print_result(console, RunResult.model_validate(document), run_dir)
    text = console.export_text()
    assert "c01-ml-c5-large: 3 of 3 trials: mean ≥ 100.0 RPS, 95 % interval [75.2, 124.8], spread 90.0–110.0" in text


def test_a_run_measured_once_has_no_trials_section() -> None:
    from rightsizing.report.trials import trials_section

    run = RunResult(
        run_id="r",
        mode="local",
        region="us-east-1",
        traffic=TrafficTarget(min_rps=1),
        sla={"milliseconds": 50},  # type: ignore[arg-type]
        max_error_rate=0.01,
        candidates=[_candidate("a", "local.small", [10.0]).model_copy(update={"trials": None})],
        recommendation=None,
    )
    assert trials_section(run) == ""


def test_the_estimate_counts_every_trial_as_a_whole_search_within_the_bound() -> None:
    one = expected_test_seconds(LoadSettings(), bound=600)
    assert expected_test_seconds(LoadSettings(trials=3), bound=600) == (3 * one[0], 3 * one[1])
    assert expected_test_seconds(LoadSettings(trials=10), bound=300) == (300, 300)  # the time limit bounds them all
