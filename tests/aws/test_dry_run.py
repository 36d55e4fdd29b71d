"""The dry run end to end: without credentials (offline parts only), and against a stubbed account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.console import Console
from test_preflight import FRAUD_QUOTAS, STACK, Account, Stubbed, fraud_request

from rightsizing_cli.dry_run import DryRunReport, dry_run, print_dry_run


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine with no AWS credentials anywhere boto3 looks (environment, files, instance metadata)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


@pytest.fixture
def account(stubbed: Stubbed) -> Account:
    return Account(stubbed)


class StubbedSession:
    """A boto3 session whose clients are the account's Stubber'd ones."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.asked: list[tuple[str, str]] = []

    def get_credentials(self) -> object:
        return object()

    def client(self, service: str, region_name: str, config: Any = None) -> Any:
        self.asked.append((service, region_name))
        return self.account.client(service)


def _printed(report: DryRunReport) -> str:
    console = Console(record=True, width=200)
    print_dry_run(console, report)
    return " ".join(console.export_text().replace("│", " ").split())  # words only: no wrapping, no table rules


def test_without_credentials_the_offline_part_still_answers(no_credentials: None) -> None:
    report = dry_run(fraud_request(), boto3.Session(region_name="us-east-1"), "us-east-1")
    statuses = {check.name: check.status for check in report.checks}
    assert [statuses[n] for n in ("region", "instance types", "payloads", "execution input", "history events")] == [
        "ok"
    ] * 5
    unchecked = [c for c in report.checks if c.status == "not checked"]
    assert [c.name for c in unchecked] == [
        "AWS credentials",
        "stack",
        "instance types offered",
        "endpoint quotas",
        "model data",
        "SageMaker execution role",
    ]
    assert "NoCredentialsError" in unchecked[0].detail
    assert report.ok  # nothing failed; what could not be checked is said
    assert report.estimate.total_usd.worst == pytest.approx(1.560623, abs=1e-5)  # bundled prices, template defaults
    assert any("stack unknown" in note for note in report.estimate.notes)
    json.dumps(report.model_dump(mode="json"))  # what `--output json` prints
    printed = _printed(report)
    assert "✓ region" in printed and "– stack" in printed
    assert "$0.17 $0.27 $1.56" in printed and "16 min 23 min 1 h 59 min" in printed
    assert "ready: no check failed; 6 could not be checked" in printed


def test_a_ready_account_uses_the_stacks_settings(account: Account) -> None:
    account.identity().stack(cpu="4096", memory="8192").quotas(**FRAUD_QUOTAS).model_data().role()
    account.stub("pricing").add_client_error("get_products", service_error_code="AccessDeniedException")
    session = StubbedSession(account)
    report = dry_run(fraud_request(), session, "us-east-1", stack=STACK)  # type: ignore[arg-type]
    assert report.ok and {c.status for c in report.checks} == {"ok"}, report.checks
    assert ("pricing", "us-east-1") in session.asked and ("cloudformation", "us-east-1") in session.asked
    estimate = report.estimate
    assert estimate.max_concurrency == 2  # the stack's MaxParallelCandidates under the request's 3
    assert estimate.load_test_task.cpu_units == 4096 and "stack sagemaker-rightsizing" in estimate.load_test_task.source
    # The Price List API refused: the bundled snapshot priced it, and says why.
    assert "fallback: Price List API unavailable (AccessDeniedException)" in estimate.candidates[0].price_source
    # 6 benchmarks two at a time: three waves of 693 s typical.
    assert estimate.duration_seconds.typical == pytest.approx(3 * 693 + 10)


def test_a_budget_no_candidate_fits_fails_the_dry_run(no_credentials: None) -> None:
    report = dry_run(fraud_request(budget_usd=0.10), None, "us-east-1")
    budget = next(check for check in report.checks if check.name == "budget")
    assert budget.status == "failed" and "$1.29" in budget.detail and "plan step would refuse" in budget.detail
    assert not report.ok
    assert "not ready: 1 check(s) failed" in _printed(report)


def test_a_budget_below_the_worst_case_names_the_candidates_the_plan_would_skip(no_credentials: None) -> None:
    # Worst cases in order: $0.20, $0.22, $0.20, $0.20, $0.17 (= $0.99 committed), then ml.r5 at $0.29 does not fit.
    report = dry_run(fraud_request(budget_usd=1.0), None, "us-east-1")
    budget = next(check for check in report.checks if check.name == "budget")
    assert budget.status == "ok"
    assert "skip 1 of 6 candidate(s) (c06-ml-r5-xlarge)" in budget.detail and "$0.99" in budget.detail


def test_an_unknown_type_fails_and_is_left_out_of_the_estimate(no_credentials: None) -> None:
    document = fraud_request().model_dump(mode="json")
    document["candidates"][0]["instance_type"] = "ml.zz9.xlarge"
    request = fraud_request(candidates=document["candidates"])
    report = dry_run(request, None, "us-east-1")
    checks = {check.name: check for check in report.checks}
    assert checks["instance types"].status == "failed" and "did you mean" in checks["instance types"].detail
    assert checks["prices"].status == "failed"  # budget_usd is set: the plan step could not check it
    assert not report.estimate.complete and not report.ok


def test_credentials_aws_refuses_end_the_online_part(account: Account) -> None:
    account.stub("sts").add_client_error(
        "get_caller_identity", service_error_code="ExpiredToken", service_message="expired", http_status_code=400
    )
    session = StubbedSession(account)
    report = dry_run(fraud_request(), session, "us-east-1")  # type: ignore[arg-type]
    assert report.checks[6].name == "AWS credentials" and report.checks[6].status == "failed"
    assert "ExpiredToken" in report.checks[6].detail
    assert not report.ok
    assert [service for service, _ in session.asked] == ["sts"]  # nothing else asked, not even prices
    assert report.estimate.candidates[0].price_source == "bundled AWS Price List snapshot (2026, on-demand, Hosting)"
