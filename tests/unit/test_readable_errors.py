"""Errors a person can read: rules in words, 'did you mean', escaped output, and one exit code (2) for a refused
request wherever the refusal comes from (the CLI, or the state machine's plan step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from rightsizing.adapters.guard import check_region, sagemaker_regions
from rightsizing.exceptions import InvalidRequest
from rightsizing.models.messages import NAMED_PATTERNS, did_you_mean
from rightsizing.models.request import MIN_REQUESTS_AT_SLA, RightsizingRequest, parse_request
from rightsizing_cli import aws_runs
from rightsizing_cli.exit_codes import ExitCode, execution_failure
from rightsizing_cli.main import app
from rightsizing_cli.output import print_result
from rightsizing_local.asl_runner import ExecutionOutcome
from rightsizing_local.run import LocalRun

runner = CliRunner()
LAMBDA_CAUSE = json.dumps(
    {
        "errorType": "InvalidRequest",
        "errorMessage": "invalid request: candidates.0.instance_type: unknown local profile 'local.smal'",
        "stackTrace": ['  File "/var/task/rightsizing/steps/plan.py", line 42, in plan_run\n'],
    }
)


def _pattern_fields(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [schema["pattern"]] if isinstance(schema.get("pattern"), str) else []
        return found + [p for value in schema.values() for p in _pattern_fields(value)]
    if isinstance(schema, list):
        return [p for value in schema for p in _pattern_fields(value)]
    return []


def test_every_pattern_of_the_request_has_its_rule_in_words() -> None:
    patterns = set(_pattern_fields(RightsizingRequest.model_json_schema()))
    assert patterns and patterns <= set(NAMED_PATTERNS)


def test_did_you_mean_offers_only_the_nearest_names() -> None:
    assert did_you_mean("local.smal", ["local.small", "local.medium", "local.large"]) == "; did you mean local.small?"
    assert did_you_mean("trafic", ["traffic", "tags"], quote=True) == "; did you mean 'traffic'?"
    assert did_you_mean("zzz", ["traffic", "tags"]) == ""


def test_a_mistyped_region_gets_the_nearest_regions_not_the_whole_list() -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_region("eu-wset-1")
    message = str(refused.value)
    assert "did you mean eu-west-1" in message
    named = [region for region in sagemaker_regions() if region in message]
    assert 1 <= len(named) <= 3, message


def test_an_sla_must_leave_room_for_twenty_requests_in_the_time_limit(demo_request: dict[str, Any]) -> None:
    seconds = demo_request["limits"]["max_seconds_per_candidate"]
    demo_request["sla"]["milliseconds"] = seconds * 1000 / MIN_REQUESTS_AT_SLA
    parse_request(demo_request)  # exactly 20 fit
    demo_request["sla"]["milliseconds"] += 1
    with pytest.raises(InvalidRequest, match=r"sla\.milliseconds: .* raise max_seconds_per_candidate to at least"):
        parse_request(demo_request)


def test_a_refusal_inside_the_state_machine_is_exit_2_with_one_line() -> None:
    code, message = execution_failure("FAILED", "InvalidRequest", LAMBDA_CAUSE)
    assert code == ExitCode.INVALID
    assert message == (
        "the state machine refused the request: invalid request: candidates.0.instance_type: "
        "unknown local profile 'local.smal'"
    )
    code, message = execution_failure("FAILED", "States.TaskFailed", json.dumps({"errorMessage": "boom"}))
    assert (code, message) == (ExitCode.FAILED, "run FAILED: States.TaskFailed: boom")
    assert execution_failure("TIMED_OUT", None, None) == (
        ExitCode.FAILED,
        "run TIMED_OUT: the execution ran longer than its TimeoutSeconds; "
        "what it created is swept by the cleanup state machine",
    )


def test_status_of_a_refused_aws_run_exits_2() -> None:
    document = {"status": "FAILED", "error": "BudgetExceeded", "cause": json.dumps({"errorMessage": "too dear"})}
    assert aws_runs.outcome_code(document) == ExitCode.INVALID
    assert aws_runs.outcome_code({**document, "error": "RunNotSummarised"}) == ExitCode.FAILED


def test_run_exits_2_without_a_stack_trace_when_the_plan_step_refuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, events_dir: Path
) -> None:
    import rightsizing_local.run

    refused = LocalRun(
        run_id="r",
        run_dir=tmp_path,
        execution=ExecutionOutcome(status="FAILED", error="InvalidRequest", cause=LAMBDA_CAUSE),
        result=None,
    )
    monkeypatch.setattr(rightsizing_local.run, "run_local", lambda *args, **kwargs: refused)
    result = runner.invoke(app, ["run", str(events_dir / "local-demo.json"), "--dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == (
        "error: the state machine refused the request: invalid request: candidates.0.instance_type: "
        "unknown local profile 'local.smal'"
    )
    assert "stackTrace" not in result.output and "File " not in result.output


def test_run_refuses_an_unknown_profile_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, events_dir: Path
) -> None:
    import rightsizing_local.run

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("run_local must not be reached")

    monkeypatch.setattr(rightsizing_local.run, "run_local", started)
    document = json.loads((events_dir / "local-demo.json").read_text())
    document["candidates"] = [{"instance_type": "local.medum"}]
    document["payloads"] = {"samples": ["1,2"]}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document))
    for command in (["validate", str(path)], ["run", str(path), "--dir", str(tmp_path)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "candidates.0.instance_type: unknown local profile 'local.medum'" in result.output
        assert "did you mean local.medium?" in result.output


def test_an_unreadable_request_file_is_one_line_not_a_trace(tmp_path: Path) -> None:
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    result = runner.invoke(app, ["validate", str(tmp_path / "binary.json")])
    assert result.exit_code == 2 and result.output.startswith("error: cannot read the request file")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    result = runner.invoke(app, ["validate", str(tmp_path)])  # a folder
    assert result.exit_code == 2 and result.output.startswith("error: cannot read the request file")


def test_results_print_their_reasons_with_brackets_intact(demo_request: dict[str, Any], tmp_path: Path) -> None:
    from rightsizing.models.result import RunResult

    result = RunResult.model_construct(
        mode="local",
        sla=parse_request(demo_request).sla,
        traffic=parse_request(demo_request).traffic,
        candidates=[],
        recommendation=None,
        no_recommendation_reason="no candidate met [bold]p95[/bold]",
        notes=["trace of [red]c01[/red] unreadable"],
    )
    console = Console(width=200, record=True, color_system=None)
    print_result(console, result, tmp_path / "[run]")
    text = console.export_text()
    assert "no candidate met [bold]p95[/bold]" in text
    assert "trace of [red]c01[/red] unreadable" in text
    assert f"{tmp_path}/[run]" in text


def test_a_misshapen_ml_type_still_gets_the_nearest_types(tmp_path: Path, events_dir: Path) -> None:
    document = json.loads((events_dir / "aws-fraud-tabular.json").read_text())
    document["candidates"] = [{"instance_type": "ml.m5.xlarg"}, {"instance_type": "local.smal"}]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "candidates.0.instance_type: 'ml.m5.xlarg' is not an instance type name" in result.output
    assert "did you mean ml.m5.xlarge" in result.output
