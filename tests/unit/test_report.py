"""The recommend step's outputs: result.json, results.csv, the HTML report and the CloudFormation snippet."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rightsizing.models.result import ProbeRecord, RunResult
from rightsizing.ports import Backend
from rightsizing.pricing import SnapshotPrices
from rightsizing.report import endpoint_snippet, render_html
from rightsizing.report.charts import LOWER_BOUND, latency_vs_load, price_vs_rate
from rightsizing.report.publish import load_traces
from rightsizing.steps.recommend import RecommendInput, recommend_run
from rightsizing.store import LocalStore, local_uri, put_json

CANDIDATES = [
    ("c01-ml-c5-large", "ml.c5.large", 100.0),
    ("c02-ml-c5-xlarge", "ml.c5.xlarge", 230.0),
    ("c03-ml-t2-medium", "ml.t2.medium", 0.0),
]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, !GetAtt) as {tag: value}."""


_CfnLoader.add_multi_constructor("!", lambda loader, tag, node: {"!" + tag: loader.construct_scalar(node)})


def _probe(index: int, users: int, rps: float, p95: float, passed: bool) -> dict[str, Any]:
    latency = {"p50": p95 / 2, "p90": p95 * 0.9, "p95": p95, "p99": p95 * 1.2}
    return ProbeRecord(
        index=index,
        users=users,
        seconds=3,
        requests=int(rps * 3),
        failures=0,
        rps=rps,
        error_rate=0,
        latency_ms=latency,
        passed=passed,
    ).model_dump(mode="json")


def _outcome(cid: str, itype: str, rps: float, run_uri: str, floor: bool = False) -> dict[str, Any]:
    """A collected candidate; ``floor``: generator-limited, so ``rps`` is a lower bound."""
    latency = {"p50": 10, "p90": 20, "p95": 30, "p99": 40} if rps else None
    return {
        "candidate": {"candidate_id": cid, "instance_type": itype, "environment": {}},
        "outcome": {
            "candidate_id": cid,
            "instance_type": itype,
            "status": "lower_bound" if floor else "succeeded",
            "generator_limited": floor,
            "sustainable_rps": rps,
            "saturation_rps": rps or 40.0,
            "latency_ms": latency,
            "error_rate": 0.0,
            "requests": 1000,
            "test_seconds": 12.0,
            "artifacts": {"trace": f"{run_uri}/candidates/{cid}/trace.json"},
        },
    }


def _run(
    tmp_path: Path,
    demo_request: dict[str, Any],
    mode: str = "aws",
    floors: frozenset[str] = frozenset(),
    **traffic: float,
) -> tuple[Path, dict]:
    """A run folder as the pipeline leaves it before the recommend step, then the step itself; ``floors``: the
    candidates whose load generator was the limit."""
    request = copy.deepcopy(demo_request)
    if mode == "aws":
        request["model"] = {"type": "container", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"}
        request["candidates"] = [{"instance_type": itype} for _, itype, _ in CANDIDATES]
    request["traffic"].update(traffic)
    run_dir = tmp_path / "runs" / "r1"
    run_uri = local_uri(run_dir)
    put_json(f"{run_uri}/request.json", request)
    outcomes = [_outcome(cid, itype, rps, run_uri, cid in floors) for cid, itype, rps in CANDIDATES]
    for cid, _, rps in CANDIDATES:
        steps = [
            _probe(0, 1, max(rps, 40) * 0.6, 12, True),
            _probe(1, 2, max(rps, 40), 30, bool(rps)),
            _probe(2, 4, max(rps, 40) * 0.9, 80, False),
        ]
        put_json(f"{run_uri}/candidates/{cid}/trace.json", steps)
    backend = Backend(
        mode=mode,
        prices=SnapshotPrices(),
        guard=None,
        containers=None,
        metrics=None,  # type: ignore[arg-type]
        store=LocalStore(),
        default_poll_seconds=1,
    )
    output = recommend_run(RecommendInput(run_id="r1", run_uri=run_uri, outcomes=outcomes), backend)
    return run_dir, output.summary.model_dump()


@pytest.fixture
def aws_run(tmp_path: Path, demo_request: dict[str, Any]) -> tuple[Path, dict]:
    return _run(tmp_path, demo_request, min_rps=100, max_rps=300)


def test_recommend_step_writes_json_csv_report_and_snippet(aws_run: tuple[Path, dict]) -> None:
    run_dir, summary = aws_run
    for name in ("result.json", "results.csv", "report.html", "endpoint-snippet.yaml"):
        assert (run_dir / name).is_file(), name
    run = RunResult.model_validate_json((run_dir / "result.json").read_text())
    assert run.schema_version == "2.6"
    assert summary["report_uri"] == run.artifacts["report"] and summary["report_uri"].endswith("/report.html")
    assert run.sizing is not None and run.sizing.scaling_efficiency == 0.9
    assert (run.traffic.range_floor, run.traffic.sizing_rps) == (100, 300)
    assert run.prices["c01-ml-c5-large"].usd_per_hour == pytest.approx(0.102)
    rec = run.recommendation
    assert rec is not None and rec.autoscaling is not None
    # c5.large: 300 / 90 -> 4 x 0.102 = 0.408 ; c5.xlarge: 300 / 207 -> 2 x 0.204 = 0.408: tie -> fewer instances
    assert (rec.instance_type, rec.instance_count) == ("ml.c5.xlarge", 2)
    assert (rec.autoscaling.min_instance_count, rec.autoscaling.max_instance_count) == (1, 2)


def test_results_csv_has_one_ranked_row_per_candidate(aws_run: tuple[Path, dict]) -> None:
    rows = list(csv.DictReader(io.StringIO((aws_run[0] / "results.csv").read_text())))
    assert [r["candidate_id"] for r in rows] == [cid for cid, _, _ in CANDIDATES]
    by_id = {r["candidate_id"]: r for r in rows}
    assert by_id["c02-ml-c5-xlarge"]["recommended"] == "True" and by_id["c02-ml-c5-xlarge"]["rank"] == "1"
    assert by_id["c01-ml-c5-large"]["rank"] == "2" and by_id["c01-ml-c5-large"]["instances_for_target"] == "4"
    assert "needs more instances" in by_id["c01-ml-c5-large"]["verdict"]
    assert by_id["c03-ml-t2-medium"]["rank"] == "" and "SLA" in by_id["c03-ml-t2-medium"]["verdict"]
    assert "snapshot (2026" in by_id["c01-ml-c5-large"]["price_source"]


def test_report_html_is_self_contained_with_charts_tables_and_assumptions(aws_run: tuple[Path, dict]) -> None:
    page = (aws_run[0] / "report.html").read_text()
    for div in (
        "chart-price-vs-rps",
        "chart-latency-vs-load",
        "chart-cost-at-target",
        "chart-knee",
        "knee-table",
        "assumptions",
        "snippet",
    ):
        assert f'id="{div}"' in page, div
    assert page.count("Plotly.newPlot") == 4
    assert "<script src=" not in page and len(page) > 1_000_000  # plotly.js embedded: works offline
    assert "2 × ml.c5.xlarge" in page and "scaling efficiency 0.9" in page
    assert "bundled AWS Price List snapshot (2026" in page and "rounded <strong>up</strong>" in page
    assert 'id="local-notice"' not in page


def test_local_report_carries_the_local_mode_notice(tmp_path: Path, demo_request: dict[str, Any]) -> None:
    run_dir, _ = _run(tmp_path, demo_request, mode="local")
    run = RunResult.model_validate_json((run_dir / "result.json").read_text())
    page = render_html(run, {})
    assert 'id="local-notice"' in page and "not AWS" in page
    assert 'id="chart-latency-vs-load-missing"' in page  # no traces given: said, not drawn


def test_no_recommendation_is_explained_everywhere(tmp_path: Path, demo_request: dict[str, Any]) -> None:
    run_dir, _ = _run(tmp_path, demo_request, min_rps=100)
    run = RunResult.model_validate_json((run_dir / "result.json").read_text())
    run.recommendation, run.no_recommendation_reason = None, "no candidate met the latency SLA"
    page = render_html(run, {})
    assert "No recommendation" in page and "no candidate met the latency SLA" in page
    assert 'id="chart-cost-at-target-missing"' in page
    assert endpoint_snippet(run).startswith("# Run r1: no recommendation")


def test_snippet_is_cloudformation_with_a_target_tracking_policy(aws_run: tuple[Path, dict]) -> None:
    template = yaml.load((aws_run[0] / "endpoint-snippet.yaml").read_text(), Loader=_CfnLoader)
    resources = template["Resources"]
    variant = resources["RightsizedEndpointConfig"]["Properties"]["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.c5.xlarge", 2)
    target = resources["RightsizedScalableTarget"]
    assert target["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (1, 2)
    assert target["Properties"]["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["Properties"]["ResourceId"] == {"!Sub": "endpoint/${EndpointName}/variant/AllTraffic"}
    policy = resources["RightsizedScalingPolicy"]["Properties"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["TargetValue"] == pytest.approx(230 * 0.5 * 60)
    assert policy["ScalingTargetId"] == {"!Ref": "RightsizedScalableTarget"}


def test_traces_are_read_from_the_run_folder(aws_run: tuple[Path, dict]) -> None:
    run_dir = aws_run[0]
    run = RunResult.model_validate_json((run_dir / "result.json").read_text())
    (run_dir / "candidates" / "c03-ml-t2-medium" / "trace.json").unlink()
    traces = load_traces(run, local_uri(run_dir), LocalStore())
    assert set(traces) == {"c01-ml-c5-large", "c02-ml-c5-xlarge"}
    assert [p.users for p in traces["c01-ml-c5-large"]] == [1, 2, 4]


def test_closed_loop_latency_is_drawn_by_users_not_by_falling_throughput(aws_run: tuple[Path, dict]) -> None:
    run = RunResult.model_validate_json((aws_run[0] / "result.json").read_text())
    probes = [
        ProbeRecord.model_validate(_probe(i, u, rps, 20, True))
        for i, (u, rps) in enumerate([(1, 50), (2, 90), (4, 70)])
    ]
    figure = latency_vs_load(run, {"c01-ml-c5-large": probes})
    assert figure is not None
    assert list(figure.data[0].x) == [50, 90, 70]  # 4 users drew less than 2: the line goes back, as measured
    assert json.loads(figure.to_json())["data"][0]["name"] == "p50"


def test_a_lower_bound_is_said_in_result_csv_and_report_and_plotted_at_its_floor(
    tmp_path: Path, demo_request: dict[str, Any]
) -> None:
    floors = frozenset({"c01-ml-c5-large", "c02-ml-c5-xlarge"})
    run_dir, summary = _run(tmp_path, demo_request, floors=floors, min_rps=100, max_rps=300)
    run = RunResult.model_validate_json((run_dir / "result.json").read_text())
    statuses = {c.candidate_id: c.status for c in run.candidates}
    assert statuses == {
        "c01-ml-c5-large": "lower_bound",
        "c02-ml-c5-xlarge": "lower_bound",
        "c03-ml-t2-medium": "succeeded",
    }
    rec = run.recommendation
    assert rec is not None and rec.candidate_id == "c02-ml-c5-xlarge" and rec.lower_bound
    assert "is a lower bound" in rec.rationale and "is a lower bound" in summary["message"]
    rows = {r["candidate_id"]: r for r in csv.DictReader(io.StringIO((run_dir / "results.csv").read_text()))}
    assert rows["c02-ml-c5-xlarge"]["status"] == "lower_bound" and rows["c03-ml-t2-medium"]["status"] == "succeeded"
    assert "lower bound" in rows["c01-ml-c5-large"]["verdict"]
    page = (run_dir / "report.html").read_text()
    assert 'id="lower-bound"' in page and "Sized on a lower bound" in page
    assert "≥ 230.0 (a lower bound)" in page  # key figures
    assert "<td>lower bound</td><td>≥ 100.0</td>" in page  # the candidates table
    assert "c01-ml-c5-large: ≥ 100.0 RPS is a lower bound (the load generator, not the endpoint, was the limit)" in page
    figure = price_vs_rate(run)
    points = {name: x for trace in figure.data for name, x in zip(trace.text, trace.x, strict=True)}
    assert points["c01-ml-c5-large · ml.c5.large"] == 100.0  # at its floor, not at 0
    assert {trace.name for trace in figure.data} == {"recommended", LOWER_BOUND, "never met the SLA"}


def test_an_unmeasured_candidate_is_not_plotted_at_zero(aws_run: tuple[Path, dict]) -> None:
    run = RunResult.model_validate_json((aws_run[0] / "result.json").read_text())
    run.candidates[0] = run.candidates[0].model_copy(
        update={"status": "failed", "sustainable_rps": 0.0, "generator_limited": True, "failure_reason": "not measured"}
    )
    figure = price_vs_rate(run)
    assert not any("c01-ml-c5-large" in text for trace in figure.data for text in trace.text)
    assert "their capacity is unknown, not zero" in render_html(run, {})


def test_the_latency_chart_marks_re_measured_and_invalid_probes_apart_from_failures(aws_run: tuple[Path, dict]) -> None:
    run = RunResult.model_validate_json((aws_run[0] / "result.json").read_text())
    base = ProbeRecord.model_validate(_probe(0, 0, 100, 20, False)).model_copy(update={"kind": "open"})
    probes = [
        base.model_copy(update={"index": 0, "target_rps": 100.0, "passed": True}),
        base.model_copy(update={"index": 1, "target_rps": 110.0, "remeasured": True}),
        base.model_copy(update={"index": 2, "target_rps": 120.0, "valid": False}),
        base.model_copy(update={"index": 3, "target_rps": 130.0}),
    ]
    figure = latency_vs_load(run, {"c01-ml-c5-large": probes})
    assert figure is not None
    assert list(figure.data[0].marker.symbol) == ["circle", "circle-open", "diamond-open", "x"]
