"""The request contract: good inputs pass; every bad input names its field and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.request import CandidateSpec, RightsizingRequest, parse_request
from rightsizing.models.targets import LatencySla, TrafficTarget


def _error_text(document: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse_request(document)
    return str(info.value)


def test_demo_request_is_valid(demo_request: dict[str, Any]) -> None:
    request = RightsizingRequest.model_validate(demo_request)
    assert request.is_local
    assert [c.instance_type for c in request.candidates] == ["local.small", "local.medium", "local.large"]
    assert request.sla.percentile == "p95"


def test_aws_request_defaults() -> None:
    request = RightsizingRequest.model_validate(
        {
            "model": {"type": "container", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
            "candidates": [{"instance_type": "ml.c6i.xlarge"}, {"instance_type": "ml.g4dn.xlarge"}],
            "traffic": {"min_rps": 300},
            "sla": {"milliseconds": 100},
            "payloads": {"samples": ["1,2,3"]},
        }
    )
    assert request.max_error_rate == 0.01
    assert request.load.mode == "adaptive"
    assert request.region == "us-east-1"
    assert not request.is_local


@pytest.mark.parametrize(
    ("patch", "field", "rule"),
    [
        ({"traffic": {"min_rps": -5}}, "traffic.min_rps", "greater than 0"),
        ({"traffic": {"min_rps": 100, "max_rps": 50}}, "traffic.max_rps", "50 is below min_rps (100)"),
        ({"candidates": []}, "candidates", "must have at least 1 entry (got 0)"),
        ({"sla": {"percentile": "p97", "milliseconds": 50}}, "sla.percentile", "'p50', 'p90', 'p95' or 'p99'"),
        ({"sla": {"percentile": "p95", "milliseconds": 0}}, "sla.milliseconds", "must be at least 0.1 (got 0)"),
        ({"region": "mars-east-1"}, "region", "'mars-east-1' is not an AWS region name"),
        ({"max_error_rate": 2}, "max_error_rate", "must be at most 0.5 (got 2)"),
        ({"payloads": {"content_type": "text/csv"}}, "payloads", "at least one payload"),
        ({"candidates": [{"instance_type": "c5.xlarge"}]}, "candidates.0.instance_type", "not an instance type name"),
        ({"tags": {"aws:owner": "x"}}, "tags", "not start with 'aws:'"),
        ({"surprise": 1}, "surprise", "unknown field; allowed: name, model, candidates"),
        ({"trafic": {"min_rps": 1}}, "trafic", "unknown field; did you mean 'traffic'?"),
        ({"load": {"max_workers": 0}}, "load.max_workers", "between 1 and 64, or 'auto'"),
        ({"load": {"workers": 4, "max_workers": 2}}, "load.max_workers", "2 is below workers (4)"),
        ({"load": {"mode": "ramp", "workers": 2}}, "load.mode", "single-process classic baseline"),
        ({"load": {"mode": "ramp", "worker_placement": "tasks"}}, "load.mode", "single-process classic baseline"),
        ({"load": {"worker_placement": "tasks", "max_workers": "auto"}}, "load.max_workers", "'tasks' give a number"),
        ({"load": {"worker_placement": "pods"}}, "load.worker_placement", "'processes' or 'tasks'"),
    ],
)
def test_bad_request_names_field_and_rule(demo_request: dict[str, Any], patch: dict, field: str, rule: str) -> None:
    message = _error_text({**demo_request, **patch})
    assert f"{field}:" in message
    assert rule in message


def test_duplicate_candidates_are_rejected(demo_request: dict[str, Any]) -> None:
    demo_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "local.small"}]
    assert "candidates.1: duplicates an earlier candidate (local.small)" in _error_text(demo_request)


def test_mixed_local_and_aws_candidates_are_rejected(demo_request: dict[str, Any]) -> None:
    demo_request["candidates"] = [{"instance_type": "local.small"}, {"instance_type": "ml.c5.large"}]
    assert "candidates: mixes local profiles and AWS instance types" in _error_text(demo_request)


def test_missing_payload_file_is_reported_when_read_from_a_file(tmp_path: Path, demo_request: dict) -> None:
    demo_request["payloads"] = {"content_type": "text/csv", "files": ["nowhere.csv"]}
    with pytest.raises(ValidationError) as info:
        RightsizingRequest.model_validate(demo_request, context={"base_dir": tmp_path})
    assert info.value.errors()[0]["loc"] == ("payloads", "files")
    assert "payload file 'nowhere.csv' not found" in str(info.value)


def test_payload_files_resolve_relative_to_the_request(tmp_path: Path, demo_request: dict) -> None:
    (tmp_path / "row.csv").write_text("1,2")
    demo_request["payloads"] = {"content_type": "text/csv", "files": ["row.csv"]}
    request = RightsizingRequest.model_validate(demo_request, context={"base_dir": tmp_path})
    assert request.payloads.files == [str(tmp_path / "row.csv")]


def test_environment_grid_expands_to_every_combination() -> None:
    spec = CandidateSpec(
        instance_type="ml.c6i.xlarge",
        environment={"A": "1"},
        environment_grid={"OMP_NUM_THREADS": ["1", "2"], "SAGEMAKER_MODEL_SERVER_WORKERS": ["1", "4"]},
    )
    variants = spec.variants()
    assert len(variants) == 4
    assert {"A": "1", "OMP_NUM_THREADS": "2", "SAGEMAKER_MODEL_SERVER_WORKERS": "4"} in variants


def test_instance_type_formats() -> None:
    for good in ("ml.c6i.xlarge", "ml.g4dn.12xlarge", "ml.t2.medium", "ml.inf2.xlarge", "local.small"):
        assert CandidateSpec(instance_type=good).instance_type == good
    for bad in ("ml.c6i", "c6i.xlarge", "ml..large", "local.", "ML.C5.LARGE"):
        with pytest.raises(ValidationError):
            CandidateSpec(instance_type=bad)


def test_worker_settings_choose_in_process_or_distributed() -> None:
    from rightsizing.models.request import LoadSettings

    assert not LoadSettings().distributed and LoadSettings().max_workers is None
    assert LoadSettings(workers=2).distributed  # max_workers defaults to workers: no scaling
    assert LoadSettings(max_workers="auto").distributed and LoadSettings(max_workers=4).distributed
    assert not LoadSettings(workers=1, max_workers=1).distributed
    assert LoadSettings(worker_placement="tasks").distributed  # one worker task beside the master


def test_invalid_request_names_each_field_for_people_and_programs(demo_request: dict[str, Any]) -> None:
    document = {**demo_request, "traffic": {"min_rps": 0}, "max_error_rate": 2}
    with pytest.raises(InvalidRequest) as info:
        parse_request(document)
    error = info.value
    assert set(error.fields) == {"traffic.min_rps", "max_error_rate"}
    assert str(error) == f"invalid request: {error.details}"
    assert "traffic.min_rps: must be greater than 0 (got 0)" in error.details


def test_traffic_target_sizes_for_the_top_of_a_range_and_autoscales_from_its_floor() -> None:
    fixed = TrafficTarget(min_rps=300)
    ranged = TrafficTarget(min_rps=100, max_rps=300)
    flat_range = TrafficTarget(min_rps=300, max_rps=300)
    assert (fixed.sizing_rps, fixed.range_floor, str(fixed)) == (300, None, "300 RPS")
    assert (ranged.sizing_rps, ranged.range_floor, str(ranged)) == (300, 100, "100–300 RPS")
    assert (flat_range.sizing_rps, flat_range.range_floor, str(flat_range)) == (300, None, "300 RPS")
    with pytest.raises(ValidationError, match=r"100 is below min_rps \(300\)"):
        TrafficTarget(min_rps=300, max_rps=100)


def test_latency_sla_reads_the_command_line_form_with_the_requests_bounds() -> None:
    sla = LatencySla.parse(" P99:2.5ms ")
    assert (sla.percentile, sla.milliseconds, sla.fraction, str(sla)) == ("p99", 2.5, 0.99, "p99 ≤ 2.5 ms")
    for text in ("p97:10ms", "p95:0ms", "p95:60001ms", "95:10ms", "p95:10"):
        with pytest.raises(ValueError):
            LatencySla.parse(text)
