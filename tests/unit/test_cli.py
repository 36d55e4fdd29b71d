"""The rightsize CLI: validate and schema (run is covered by the pipeline tests)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rightsizing_cli.main import SCHEMA_DIR, app, json_schemas

runner = CliRunner()


def test_validate_accepts_the_demo(events_dir: Path) -> None:
    result = runner.invoke(app, ["validate", str(events_dir / "local-demo.json")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "3 benchmark(s)" in result.output


def test_validate_rejects_bad_input_naming_the_field(tmp_path: Path, events_dir: Path) -> None:
    document = json.loads((events_dir / "local-demo.json").read_text())
    document["traffic"]["min_rps"] = -1
    document["payloads"]["files"] = ["missing.csv"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "traffic.min_rps" in result.output
    assert "payloads.files" in result.output and "missing.csv" in result.output


def test_validate_reports_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    assert "not valid JSON" in runner.invoke(app, ["validate", str(tmp_path / "broken.json")]).output
    assert "not found" in runner.invoke(app, ["validate", str(tmp_path / "none.json")]).output


def test_checked_in_schemas_match_the_models() -> None:
    for name, schema in json_schemas().items():
        stored = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert stored == schema, f"schema/{name}.schema.json is stale: run `rightsize schema --write`"


def test_validate_refuses_an_unknown_instance_type_with_a_suggestion(tmp_path: Path, events_dir: Path) -> None:
    document = json.loads((events_dir / "aws-fraud-tabular.json").read_text())
    document["candidates"][0]["instance_type"] = "ml.zz9.xlarge"  # the right shape, but no such type
    document["candidates"][3]["instance_type"] = "ml.c5.3xlarge"
    bad = tmp_path / "unknown-type.json"
    bad.write_text(json.dumps(document))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "candidates.0.instance_type: 'ml.zz9.xlarge' is not a SageMaker real-time hosting instance type" in output
    assert "candidates.3.instance_type: 'ml.c5.3xlarge' is not a SageMaker" in output
    assert output.count("did you mean ml.") == 2  # the nearest known names (difflib), e.g. ml.c5.xlarge


def test_validate_accepts_the_aws_samples(events_dir: Path) -> None:
    for path in sorted(events_dir.glob("aws-*.json")):  # every sample's instance types are SageMaker's
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 0, f"{path.name}: {result.output}"
