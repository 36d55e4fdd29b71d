"""The CLI's AWS plumbing that needs no AWS: run ids, the execution input, profile/region/stack resolution, the exit
code table, --output json, --version and the install without the local extras."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.plan import RUN_ID
from rightsizing.models.request import RightsizingRequest
from rightsizing_cli.aws_context import AwsSetupError, default_stack_name, open_context
from rightsizing_cli.exit_codes import MEANINGS, ExitCode
from rightsizing_cli.main import app, load_request_file
from rightsizing_cli.run_names import (
    MAX_INPUT_BYTES,
    check_run_name,
    console_url,
    default_run_name,
    execution_input,
)

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
# SageMaker tag values: letters, digits, spaces and _.:/=+-@ (up to 256); Step Functions names: no whitespace,
# brackets, wildcards, punctuation or control characters (1-80).
TAG_VALUE = re.compile(r"^[\w\s_.:/=+\-@]{0,256}$")
SFN_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def test_the_run_id_is_the_request_name_and_a_digest_of_what_is_sent(aws_request: Callable[..., Any]) -> None:
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], name="fraud")
    sent = execution_input(request)
    run_id = default_run_name(request, sent)
    assert re.fullmatch(r"fraud-[0-9a-f]{12}", run_id)
    assert execution_input(RightsizingRequest.model_validate(json.loads(sent))) == sent  # canonical: stable
    other = default_run_name(request, execution_input(aws_request([{"instance_type": "ml.m5.xlarge"}], name="fraud")))
    assert other != run_id


def test_the_longest_run_id_fits_every_rule(aws_request: Callable[..., Any]) -> None:
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], name="a" * 40)
    run_id = default_run_name(request, execution_input(request))
    assert len(run_id) <= 80 and RUN_ID.match(run_id)
    assert TAG_VALUE.match(run_id) and not SFN_FORBIDDEN.search(run_id)


@pytest.mark.parametrize("name", ["", "has space", "a:b", "x" * 81, "---", "br[ack]et", "ünï", "a/b", "a,b"])
def test_bad_run_names_are_refused_naming_the_option(name: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_run_name(name)
    assert refused.value.fields == ("--name",)


def test_payloads_too_large_for_an_execution_input_are_refused(aws_request: Callable[..., Any]) -> None:
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads={"samples": ["x" * MAX_INPUT_BYTES]})
    with pytest.raises(InvalidRequest, match="256 KiB") as refused:
        execution_input(request)
    assert refused.value.fields == ("payloads",)


def test_the_console_url_follows_the_partition_and_region() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:M:r1"
    assert console_url(arn).startswith("https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#")
    assert console_url(arn.replace(":aws:", ":aws-cn:")).startswith("https://console.amazonaws.cn/")


def test_the_stack_name_comes_from_samconfig_else_the_default(tmp_path: Path) -> None:
    assert default_stack_name(REPO / "samconfig.toml") == "sagemaker-rightsizing"
    (tmp_path / "samconfig.toml").write_text('[default.deploy.parameters]\nstack_name = "rs-test"\n')
    assert default_stack_name(tmp_path / "samconfig.toml") == "rs-test"
    assert default_stack_name(tmp_path / "missing.toml") == "sagemaker-rightsizing"


def test_the_region_resolves_as_the_aws_cli_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no samconfig.toml
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-south-1\n[profile team]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    assert open_context(None, None, None).region == "ap-south-1"
    assert open_context("team", None, None).region == "eu-central-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert open_context(None, None, None).region == "us-west-2"
    monkeypatch.setenv("AWS_REGION", "eu-west-3")  # the AWS CLI prefers AWS_REGION
    assert open_context("team", None, None).region == "eu-west-3"
    context = open_context("team", "sa-east-1", "other")
    assert (context.region, context.stack_name) == ("sa-east-1", "other")
    assert context.flags == " --profile team --region sa-east-1 --stack other"
    config.write_text("")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    with pytest.raises(AwsSetupError, match="no AWS region"):
        open_context(None, None, None)
    assert open_context(None, None, None, fallback_region="us-east-2").region == "us-east-2"


def test_the_documented_exit_codes_are_the_ones_in_the_code() -> None:
    text = (REPO / "docs" / "aws-stack.md").read_text()
    section = text[text.index("### Exit codes") :]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|$", section, re.MULTILINE)
    assert {int(code): meaning.strip() for code, meaning in rows} == {int(c): m for c, m in MEANINGS.items()}
    assert set(MEANINGS) == set(ExitCode)


def test_validate_prints_one_json_document(events_dir: Path) -> None:
    result = runner.invoke(app, ["validate", str(events_dir / "aws-fraud-tabular.json"), "--output", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"valid": True, "name": "fraud-xgboost", "benchmarks": 6, "region": "us-east-1"}
    bad = runner.invoke(app, ["validate", str(events_dir / "missing.json"), "--output", "json"])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["exit_code"] == 2 and "error" in bad.stderr


def test_start_validates_exactly_as_validate_does(tmp_path: Path, events_dir: Path) -> None:
    document = json.loads((events_dir / "aws-fraud-tabular.json").read_text())
    document["traffic"]["min_rps"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    validated = runner.invoke(app, ["validate", str(bad)])
    started = runner.invoke(app, ["start", str(bad)])
    assert started.exit_code == validated.exit_code == 2
    assert "traffic.min_rps" in started.output and started.output == validated.output
    with pytest.raises(InvalidRequest):
        load_request_file(bad)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"rightsize \d+\.\d+\.\d+\S*\n", result.stdout)


def test_the_base_install_leaves_the_local_stack_to_an_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = {re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    local_only = {"moto", "scikit-learn", "joblib", "flask", "gunicorn", "locust"}
    assert not base & local_only
    local = {re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0].lower() for dep in project["optional-dependencies"]["local"]}
    assert local_only <= local
    assert "sagemaker-rightsizing[local]" in project["optional-dependencies"]["dev"]


def test_local_commands_name_the_extra_when_it_is_missing(monkeypatch: pytest.MonkeyPatch, events_dir: Path) -> None:
    import builtins

    real_import = builtins.__import__

    def no_local(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("rightsizing_local"):
            raise ModuleNotFoundError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_local)
    result = runner.invoke(app, ["run", str(events_dir / "local-demo.json")])
    assert result.exit_code == 2 and "sagemaker-rightsizing[local]" in result.output
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    bench = runner.invoke(app, ["bench", "http://127.0.0.1:9"])
    assert bench.exit_code == 2 and "sagemaker-rightsizing[local]" in bench.output
