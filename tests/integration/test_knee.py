"""The knee curve end to end: the real ASL run locally (capacity per bound in result.json, a curve per candidate in
the report), and the load-test task adding probes for a bound its search left unbracketed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pipeline_helpers import assert_everything_deleted, by_id, run
from test_loadtest_task import read_result, run_task, write_job

from rightsizing.models.knee import KneeSettings
from rightsizing.models.request import LoadSettings
from rightsizing.models.result import RunResult

pytestmark = pytest.mark.slow  # a whole local run or capacity search per test: `make test-slow`


def test_a_local_run_reports_capacity_per_bound_and_a_curve_per_candidate(tmp_path: Path, fast_request: dict) -> None:
    fast_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.medium"}]
    fast_request["traffic"] = {"min_rps": 150}
    fast_request["knee"] = {"bounds_ms": [25, 200]}  # with the SLA's 50 ms: three bounds
    result = run(tmp_path, fast_request)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    written = RunResult.model_validate_json((result.run_dir / "result.json").read_text())
    assert written.schema_version == "2.6"
    for candidate_id, candidate in by_id(result).items():
        assert candidate.status == "succeeded", candidate.failure_reason
        knee = written.candidates[[c.candidate_id for c in written.candidates].index(candidate_id)].knee
        assert knee is not None and knee.percentile == "p95"
        trace = json.loads((result.run_dir / "candidates" / candidate_id / "trace.json").read_text())
        assert [p.index for p in knee.points] == [p["index"] for p in trace if p["kind"] != "warmup"]
        assert [b.milliseconds for b in knee.bounds] == [25, 50, 200]
        tight, sla, loose = knee.bounds
        # The answer, unchanged (on a busy machine even one user may miss the SLA: then nothing met it, and no 0).
        assert sla.sla and (sla.capacity_rps or 0.0) == candidate.sustainable_rps
        assert (loose.capacity_rps or 0) >= (sla.capacity_rps or 0) >= (tight.capacity_rps or 0)
        for bound in knee.bounds:  # each capacity is a probe's rate that met the bound (or nothing met it)
            if bound.capacity_rps is not None:
                met = [p for p in trace if p["rps"] == bound.capacity_rps and p["latency_ms"]]
                assert met and met[0]["latency_ms"]["p95"] <= bound.milliseconds, bound
            else:
                assert bound.status in ("upper_bound", "not_measured"), bound
    assert written.knee is not None and [c.milliseconds for c in written.knee.choices] == [25, 50, 200]
    at_sla, answer = written.knee.choices[1], written.recommendation
    assert at_sla.sla
    assert (at_sla.candidate_id, at_sla.instance_count) == (
        (answer.candidate_id, answer.instance_count) if answer else (None, None)
    )
    page = (result.run_dir / "report.html").read_text()
    assert 'id="knee-table"' in page and 'id="chart-knee"' in page
    figure = page[page.index('id="chart-knee"') :]
    for candidate_id in by_id(result):  # a panel per candidate: its title is the candidate's label
        assert re.search(rf'"text":"{re.escape(candidate_id)}"', figure[: figure.index("</script>")]), candidate_id
    assert_everything_deleted(result)


def test_the_task_adds_probes_for_a_bound_its_search_left_open(tmp_path: Path, start_server: Callable) -> None:
    """2 slots x 50 ms: capacity 40 RPS at any bound above the service time (a rate a busy machine's generator still
    offers on time). The search brackets the SLA; its failures above stopped early, so the looser bound needs probes
    of its own."""
    server = start_server(slots=2, service_seconds=0.05)
    capacity = 2 / 0.05
    load = LoadSettings(warmup_seconds=1, step_seconds=1, min_completions=100, max_probe_seconds=3)
    job = write_job(tmp_path, load=load, max_seconds=45, knee=KneeSettings(bounds_ms=[400], extra_probes=2))

    task = run_task(job.uri, server.url, timeout=45 + 30)

    assert task.returncode == 0, task.stderr
    result = read_result(job)
    added = [p for p in result.probes if p.knee_bound_ms is not None]
    assert 1 <= len(added) <= 2, (result.stop_reason, [(p.target_rps, p.note) for p in result.probes])
    assert all(p.knee_bound_ms == 400 and p.kind == "open" for p in added)
    assert all(p.note.startswith("knee probe for p95 ≤ 400 ms") for p in added)
    searched = [p for p in result.probes if p.kind == "open" and p.knee_bound_ms is None]
    assert result.sustainable_rps == max(p.rps for p in searched if p.passed)  # the answer ignores added probes
    assert result.probes.index(added[0]) > result.probes.index(searched[-1])  # added after the search
    assert 0.8 * capacity <= result.sustainable_rps <= 1.1 * capacity, result.stop_reason
    probes = [e for e in task.events if e["event"] == "probe"]
    assert [e["knee_bound_ms"] for e in probes if e["knee_bound_ms"]] == [400] * len(added)
