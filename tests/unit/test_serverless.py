"""Serverless candidates: the request kind, the plan's ProductionVariants through the ASL state to botocore's
model, the local fake's checks, and the per-use pricing and recommendation math."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.plan import LoadTestJob, production_variants_for
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import RightsizingRequest, parse_request
from rightsizing.models.result import CandidateResult, RunResult
from rightsizing.models.serverless import ColdStart, cost_at_rate, parse_serverless_label, serverless_quote
from rightsizing.models.targets import TrafficTarget
from rightsizing.pricing import SnapshotPrices
from rightsizing.recommender import recommend
from rightsizing.steps.plan import PlanInput, plan_run
from rightsizing.steps.recommend import results_csv
from rightsizing.store import get_json, local_uri
from rightsizing_local.asl_runner import DEFINITION_PATH
from rightsizing_local.backend import LocalPrices, check_local_request, local_backend
from rightsizing_local.fake_sagemaker import LocalSageMaker

CREATE_CONFIG = json.loads(DEFINITION_PATH.read_text())["States"]["BenchmarkCandidates"]["ItemProcessor"]["States"][
    "CreateEndpointConfig"
]


def _aws(candidates: list[dict[str, Any]]) -> RightsizingRequest:
    return parse_request(
        {
            "model": {"type": "container", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
            "candidates": candidates,
            "traffic": {"min_rps": 10},
            "sla": {"milliseconds": 100},
            "payloads": {"samples": ["1,2,3"]},
        }
    )


def _refusal(candidates: list[dict[str, Any]]) -> str:
    with pytest.raises(InvalidRequest) as caught:
        _aws(candidates)
    return str(caught.value)


# --- the request ------------------------------------------------------------------------------------------------
def test_a_serverless_candidate_is_labelled_by_its_settings_in_each_mode(demo_request: dict) -> None:
    aws = _aws([{"serverless": {"memory_mb": 4096, "max_concurrency": 20}}, {"instance_type": "ml.c5.large"}])
    assert [c.instance_type for c in aws.candidates] == ["serverless-4gb-c20", "ml.c5.large"]
    assert not aws.is_local and aws.candidates[0].is_serverless
    demo_request["candidates"] = [{"serverless": {"memory_mb": 2048, "max_concurrency": 4}}]
    local = parse_request(demo_request)
    assert local.is_local and local.candidates[0].instance_type == "local.serverless-2gb-c4"
    again = RightsizingRequest.model_validate(local.model_dump(mode="json"))  # the stored request reads back
    assert again.candidates == local.candidates


@pytest.mark.parametrize(
    ("serverless", "field", "words"),
    [
        ({"memory_mb": 2000, "max_concurrency": 4}, "candidates.0.serverless.memory_mb", "did you mean 2048?"),
        ({"memory_mb": 8192, "max_concurrency": 4}, "candidates.0.serverless.memory_mb", "1 GB steps from 1 to 6"),
        ({"memory_mb": 2048, "max_concurrency": 0}, "candidates.0.serverless.max_concurrency", "at least 1"),
        ({"memory_mb": 2048, "max_concurrency": 201}, "candidates.0.serverless.max_concurrency", "at most 200"),
        ({"memory_mb": 2048}, "candidates.0.serverless.max_concurrency", "missing"),
    ],
)
def test_serverless_settings_outside_sagemakers_ranges_are_refused_by_name(
    serverless: dict[str, int], field: str, words: str
) -> None:
    message = _refusal([{"serverless": serverless}])
    assert f"{field}:" in message and words in message
    assert "instance_type" not in message  # the label is not blamed for its settings


def test_a_candidate_is_one_kind_and_a_serverless_label_is_not_an_instance_type() -> None:
    both = _refusal([{"serverless": {"memory_mb": 2048, "max_concurrency": 4}, "instance_type": "ml.c5.large"}])
    assert "candidates.0.instance_type: give either instance_type" in both
    assert "not both" in _refusal(
        [{"instance_type": "ml.c5.large", "serverless": {"memory_mb": 1024, "max_concurrency": 1}}]
    )
    assert "is a serverless label" in _refusal([{"instance_type": "serverless-2gb-c4"}])
    assert "give instance_type" in _refusal([{}])
    existing = _refusal([{"serverless": {"memory_mb": 2048, "max_concurrency": 4}, "endpoint_name": "prod"}])
    assert "candidates.0.endpoint_name:" in existing
    twice = [{"serverless": {"memory_mb": 1024, "max_concurrency": 2}}] * 2
    assert "candidates.1: duplicates" in _refusal(twice)


def test_local_mode_emulates_only_its_declared_memory_sizes(demo_request: dict) -> None:
    demo_request["candidates"] = [{"serverless": {"memory_mb": 4096, "max_concurrency": 4}}]
    with pytest.raises(InvalidRequest, match=r"candidates\.0\.serverless\.memory_mb: local mode emulates"):
        check_local_request(parse_request(demo_request))


# --- the plan, the ASL state and botocore's model ----------------------------------------------------------------
def _parameters(candidate: dict[str, Any]) -> dict[str, Any]:
    """The CreateEndpointConfig state's Parameters for one Map item, as Step Functions resolves them."""
    return {
        key.removesuffix(".$"): candidate[value.removeprefix("$.candidate.")] if key.endswith(".$") else value
        for key, value in CREATE_CONFIG["Parameters"].items()
    }


@functools.cache
def _client() -> Any:
    return botocore.session.get_session().create_client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _sagemaker_accepts(parameters: dict[str, Any]) -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:::endpoint-config/x"})
        client.create_endpoint_config(**parameters)  # the Stubber validates against the service model
        stub.assert_no_pending_responses()


def test_the_plan_gives_a_serverless_candidate_a_serverless_variant(tmp_path: Path, demo_request: dict) -> None:
    demo_request["candidates"] = [
        {"serverless": {"memory_mb": 2048, "max_concurrency": 3}},
        {"instance_type": "local.small"},
    ]
    demo_request["load"] = {"mode": "stepped", "max_users": 64}
    backend = local_backend(LocalSageMaker(tmp_path / "local"))
    plan = plan_run(PlanInput(request=demo_request, run_id="sl-1", artifacts_uri=local_uri(tmp_path)), backend)
    serverless, instance = plan.candidates
    assert serverless.production_variants == [
        {"VariantName": "AllTraffic", "ModelName": serverless.model_name,
         "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 3}}
    ]  # fmt: skip
    assert instance.production_variants[0] | {"ModelName": "m"} == {
        "VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "local.small", "InitialInstanceCount": 1
    }  # fmt: skip
    job = LoadTestJob.model_validate(get_json(serverless.job_uri))
    assert (job.serverless_max_concurrency, job.load.max_users) == (3, 3)  # users capped at MaxConcurrency
    assert LoadTestJob.model_validate(get_json(instance.job_uri)).load.max_users == 64
    for candidate in plan.candidates:
        parameters = _parameters(candidate.model_dump(mode="json"))
        assert parameters["ProductionVariants"] == candidate.production_variants
        _sagemaker_accepts(parameters)


def test_aws_serverless_variants_at_the_limits_pass_botocores_model_and_out_of_range_fail() -> None:
    request = _aws([{"serverless": {"memory_mb": 6144, "max_concurrency": 200}}])
    spec = request.candidates[0]
    assert spec.serverless is not None
    variants = production_variants_for(spec.instance_type, "m", spec.serverless.serverless_config())
    assert "InstanceType" not in variants[0] and "InitialInstanceCount" not in variants[0]
    _sagemaker_accepts({"EndpointConfigName": "c", "ProductionVariants": variants, "Tags": []})
    bad = production_variants_for("x", "m", {"MemorySizeInMB": 512, "MaxConcurrency": 1})
    with pytest.raises(ParamValidationError, match="MemorySizeInMB"):
        _sagemaker_accepts({"EndpointConfigName": "c", "ProductionVariants": bad})


def test_the_local_fake_refuses_what_sagemaker_refuses(tmp_path: Path) -> None:
    sagemaker = LocalSageMaker(tmp_path)
    sagemaker.create_model(ModelName="m", PrimaryContainer={"Image": "i", "ModelDataUrl": "file:///x"})
    cases = [
        ({"MemorySizeInMB": 512, "MaxConcurrency": 1}, {}, "MemorySizeInMB"),  # botocore's range
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 0}, {}, "MaxConcurrency"),
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 2}, {"InstanceType": "local.small"}, "cannot be specified"),
        ({"MemorySizeInMB": 6144, "MaxConcurrency": 2}, {}, "no local serverless profile"),
    ]
    for config, extra, words in cases:
        variant = {"VariantName": "AllTraffic", "ModelName": "m", "ServerlessConfig": config, **extra}
        with pytest.raises(ClientError, match=words):
            sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
    assert sagemaker.live_resources()["endpoint_configs"] == []


# --- pricing and the recommendation ------------------------------------------------------------------------------
def test_cost_at_rate_is_rate_times_duration_times_memory_times_price() -> None:
    cost = cost_at_rate(10, 0.050, 4, 0.00002, bytes_per_request=1024**3 / 36_000, usd_per_gb_processed=0.016)
    assert cost.compute_usd_per_hour == pytest.approx(10 * 0.05 * 4 * 0.00002 * 3600)  # $0.144/h
    assert cost.data_usd_per_hour == pytest.approx(0.016)  # 36,000 requests an hour x 1/36,000 GB each
    assert cost.concurrency_needed == pytest.approx(0.5)


def test_serverless_prices_come_from_the_dated_snapshot_with_the_ceiling_as_hourly_price() -> None:
    quote = SnapshotPrices().hourly_price("serverless-4gb-c20", "us-east-1")
    assert quote.usd_per_gb_second == pytest.approx(0.00002) and quote.usd_per_gb_processed == pytest.approx(0.016)
    assert quote.usd_per_hour == pytest.approx(20 * 4 * 0.00002 * 3600)  # every slot busy all hour: the ceiling
    assert "2026" in quote.source and "Serverless" in quote.source
    local = LocalPrices().hourly_price("local.serverless-2gb-c4", "us-east-1")
    assert local.region == "local" and "not an AWS price" in local.source
    assert parse_serverless_label("ml.c5.large") is None


def _measured(cid: str, label: str, rps: float, p50: float) -> CandidateResult:
    return CandidateResult(
        candidate_id=cid,
        instance_type=label,
        status="succeeded",
        sustainable_rps=rps,
        saturation_rps=rps,
        latency_ms=LatencyPercentiles(p50=p50, p90=p50 * 1.5, p95=p50 * 2, p99=p50 * 3),
        cold_start=ColdStart(first_ms=900, warm_ms=20, penalty_ms=880, warm_samples=3)
        if "serverless" in label
        else None,
    )


def _prices() -> dict[str, PriceQuote | str]:
    return {
        "s": serverless_quote("serverless-2gb-c10", "us-east-1", 0.00002, 0.016, "test"),
        "i": PriceQuote(instance_type="ml.c5.large", region="us-east-1", usd_per_hour=0.102, source="test"),
    }


def test_serverless_wins_at_a_low_rate_and_loses_at_a_high_one() -> None:
    results = [_measured("s", "serverless-2gb-c10", 200, 20), _measured("i", "ml.c5.large", 100, 10)]
    low, _ = recommend(results, _prices(), TrafficTarget(min_rps=5))
    assert low is not None and low.candidate_id == "s" and low.instance_count == 1 and low.autoscaling is None
    assert low.serverless is not None and low.usd_per_hour == pytest.approx(5 * 0.020 * 2 * 0.00002 * 3600, abs=1e-5)
    assert low.serverless.cold_start_ms == 900 and "cold start" in low.rationale
    assert low.alternatives[0].candidate_id == "i" and low.alternatives[0].usd_per_hour == pytest.approx(0.102)
    # 150 RPS: serverless costs 150 x 0.02 s x 2 GB x $0.00002 x 3600 = $0.432/h; two ml.c5.large $0.204/h.
    high, _ = recommend(results, _prices(), TrafficTarget(min_rps=150))
    assert high is not None and high.candidate_id == "i" and high.instance_count == 2
    lost = high.alternatives[0]
    assert lost.candidate_id == "s" and lost.serverless is not None
    assert lost.usd_per_hour == pytest.approx(0.432, rel=1e-3)


def test_a_serverless_endpoint_that_cannot_carry_the_target_says_so() -> None:
    results = [_measured("s", "serverless-2gb-c10", 80, 20)]
    choice, why = recommend(results, _prices(), TrafficTarget(min_rps=120))
    assert choice is None and why is not None
    assert "MaxConcurrency 10 sustains 80.0 RPS" in why and "raise max_concurrency" in why


def test_results_csv_reports_the_cold_start_and_no_unit_price_for_serverless() -> None:
    results = [_measured("s", "serverless-2gb-c10", 200, 20), _measured("i", "ml.c5.large", 100, 10)]
    prices = _prices()
    choice, _ = recommend(results, prices, TrafficTarget(min_rps=5))
    run = RunResult(
        run_id="r", mode="aws", region="us-east-1", traffic=TrafficTarget(min_rps=5),
        sla={"milliseconds": 100}, max_error_rate=0.01, candidates=results, recommendation=choice,
    )  # fmt: skip
    rows = {r.split(",")[0]: r for r in results_csv(run, prices).splitlines()[1:]}
    header = results_csv(run, prices).splitlines()[0].split(",")
    serverless = dict(zip(header, rows["s"].split(","), strict=False))
    assert serverless["cold_start_ms"] == "900.0" and serverless["usd_per_hour_per_instance"] == ""
    assert float(serverless["usd_per_hour_on_demand_for_target"]) == pytest.approx(choice.usd_per_hour)  # type: ignore[union-attr]


def test_the_aws_guard_checks_instance_types_and_quotas_of_instance_candidates_only() -> None:
    from rightsizing.adapters.guard import AwsGuard

    class Quotas:
        def endpoint_usage_quotas(self) -> dict[str, float]:
            return {"ml.c5.large": 1.0}  # nothing for serverless: it uses no instances

    request = _aws([{"serverless": {"memory_mb": 2048, "max_concurrency": 5}}, {"instance_type": "ml.c5.large"}])
    AwsGuard(region="us-east-1", quotas=Quotas()).check(request)  # type: ignore[arg-type]
    short = _aws([{"serverless": {"memory_mb": 2048, "max_concurrency": 5}}, {"instance_type": "ml.c5.xlarge"}])
    with pytest.raises(InvalidRequest, match=r"ml\.c5\.xlarge"):
        AwsGuard(region="us-east-1", quotas=Quotas()).check(short)  # type: ignore[arg-type]


def test_the_snippet_for_a_serverless_answer_has_a_serverless_config_and_no_instances() -> None:
    import yaml

    from rightsizing.report.snippet import endpoint_snippet

    results = [_measured("s", "serverless-2gb-c10", 200, 20)]
    choice, _ = recommend(results, _prices(), TrafficTarget(min_rps=5))
    run = RunResult(
        run_id="r", mode="aws", region="us-east-1", traffic=TrafficTarget(min_rps=5),
        sla={"milliseconds": 100}, max_error_rate=0.01, candidates=results, recommendation=choice,
    )  # fmt: skip
    text = endpoint_snippet(run)
    variant = yaml.safe_load(text.replace("!Ref ", "").replace("!GetAtt ", ""))["Resources"][
        "RightsizedEndpointConfig"
    ]["Properties"]["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 10}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    assert "ScalableTarget" not in text  # no autoscaling advice for a serverless endpoint
