"""The budget held during the run, through the real ASL: a candidate whose worst case would pass budget_usd is
skipped before anything is created for it, and the others still produce a recommendation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import assert_everything_deleted, by_id, run

pytestmark = pytest.mark.slow  # a whole local run or capacity search per test: `make test-slow`


def test_a_budget_for_two_of_three_measures_two_and_skips_the_third(tmp_path: Path, fast_request: dict) -> None:
    # Worst cases at the notional prices: local.small $0.053, local.medium $0.106, local.large $0.212.
    fast_request["budget_usd"] = 0.16
    result = run(tmp_path, fast_request)
    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidates = by_id(result)
    assert candidates["c01-local-small"].status != "skipped" and candidates["c02-local-medium"].status != "skipped"
    large = candidates["c03-local-large"]
    assert large.status == "skipped" and large.sustainable_rps is None
    assert large.failure_reason is not None and "would pass budget_usd $0.16" in large.failure_reason
    names = {name for _, name in result.sagemaker_calls}
    assert names and not any(name.endswith("-c03") for name in names), names  # nothing of the third was created
    assert_everything_deleted(result)
    assert result.result is not None and result.result.recommendation is not None
    skipped = {a.candidate_id: a.reason for a in result.result.recommendation.alternatives}["c03-local-large"]
    assert skipped.startswith("not measured: its worst case") and skipped.endswith("(not deployed)")
