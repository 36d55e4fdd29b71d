"""The measured cost through the real ASL executed locally: the timestamps the states record reach the collect step
on the success, skip and failure paths, and result.json, results.csv, the report and the console say what the run
cost, labelled notional."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from pipeline_helpers import Proxy, assert_everything_deleted, by_id, run
from rich.console import Console

from rightsizing.measured_cost import RUN_LAMBDA_INVOCATIONS
from rightsizing_cli.output import print_result


def test_a_budget_for_two_of_three_measures_what_the_two_cost_and_nothing_for_the_third(
    tmp_path: Path, fast_request: dict
) -> None:
    fast_request["budget_usd"] = 0.16  # worst cases: local.small $0.053, local.medium $0.106, local.large $0.212
    lambdas: list[Any] = []

    def keep_lambda(clients: dict[str, Any]) -> dict[str, Any]:
        lambdas.append(clients["lambda"])
        return clients

    began = time.time()
    result = run(tmp_path, fast_request, keep_lambda)
    wall = time.time() - began
    assert result.execution.status == "SUCCEEDED", result.execution.cause
    assert result.result is not None and result.result.cost is not None
    cost = result.result.cost
    candidates = by_id(result)
    assert candidates["c03-local-large"].status == "skipped"
    spent = {c.candidate_id: c for c in cost.candidates}
    for cid, hourly in (("c01-local-small", 0.05), ("c02-local-medium", 0.10)):
        usage = candidates[cid].usage
        assert usage is not None and usage.endpoint_deleted
        # The endpoint was up through the whole load test, and not longer than the run itself.
        assert 0 < usage.task_seconds < usage.endpoint_seconds < wall, (cid, usage)
        assert spent[cid].endpoint_usd == round(usage.endpoint_seconds / 3600 * hourly, 6)
        assert spent[cid].task_seconds == 60 and spent[cid].load_test_usd > 0  # Fargate's 1-minute minimum
    skipped = spent["c03-local-large"]
    assert (skipped.usd, skipped.endpoint_seconds, skipped.task_seconds) == (0, 0, 0)
    assert cost.measured_usd > 0 and cost.complete and cost.notional
    assert cost.instance_price_sources == ["notional local price (not an AWS price)"]
    assert cost.estimated_usd is not None and cost.estimated_usd.low > 0
    # Counted from the iterations' paths, the transitions are the states the local interpreter entered; the Lambda
    # invocations, those the local Lambda ran.
    kinds = {item.kind: item for item in cost.by_kind}
    assert kinds["step_functions"].quantity == f"{len(result.execution.entered_states())} transitions"
    assert kinds["lambda"].quantity.startswith(f"{len(lambdas[0].invocations)} invocations")
    assert len(lambdas[0].invocations) == RUN_LAMBDA_INVOCATIONS + 2
    assert_everything_deleted(result)

    rows = {
        row["candidate_id"]: row for row in csv.DictReader(io.StringIO((result.run_dir / "results.csv").read_text()))
    }
    assert float(rows["c01-local-small"]["measured_cost_usd"]) == spent["c01-local-small"].usd
    assert float(rows["c03-local-large"]["measured_cost_usd"]) == 0
    page = (result.run_dir / "report.html").read_text()
    assert 'id="cost-by-kind"' in page and 'id="cost-notional"' in page and f"${cost.measured_usd:,.4f}" in page
    console = Console(record=True, width=200)
    print_result(console, result.result, result.run_dir)
    line = next(text for text in console.export_text().splitlines() if text.startswith("Run cost:"))
    assert f"${cost.measured_usd:,.4f} measured (estimate ${cost.estimated_usd.typical:,.4f}" in line
    assert "notional local prices: not an AWS bill" in line


def test_a_load_test_that_failed_still_costs_its_endpoint_and_its_task(tmp_path: Path, fast_request: dict) -> None:
    """RecordFailure gets the timestamps too; the task's seconds come from the stopped task in the failure's cause."""
    fast_request["candidates"] = [{"instance_type": "local.small"}]

    class UnreadableJob(Proxy):
        def run_task(self, **kwargs: Any) -> dict:
            overrides = kwargs["Overrides"]["ContainerOverrides"][0]
            environment = [
                {**item, "Value": (tmp_path / "no-such-job.json").as_uri()} if item["Name"] == "JOB_URI" else item
                for item in overrides["Environment"]
            ]
            container = {**overrides, "Environment": environment}
            return self.inner.run_task(**{**kwargs, "Overrides": {"ContainerOverrides": [container]}})

    result = run(tmp_path, fast_request, lambda c: {**c, "ecs": UnreadableJob(c["ecs"])})
    assert result.execution.status == "SUCCEEDED", result.execution.cause
    failed = by_id(result)["c01-local-small"]
    assert failed.status == "failed" and failed.usage is not None
    assert failed.usage.endpoint_seconds > failed.usage.task_seconds > 0
    assert "RecordFailure" in result.execution.entered_states()
    assert result.result is not None and result.result.cost is not None
    assert result.result.cost.candidates[0].usd is not None and result.result.cost.candidates[0].usd > 0
    kinds = {item.kind: item for item in result.result.cost.by_kind}
    assert kinds["step_functions"].quantity == f"{len(result.execution.entered_states())} transitions"
    assert_everything_deleted(result)
