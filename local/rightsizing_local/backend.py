"""The local implementation of the pipeline's seams (``rightsizing.ports``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rightsizing.exceptions import InvalidRequest, PriceNotFound
from rightsizing.models.messages import did_you_mean, shown
from rightsizing.models.plan import CandidatePlan
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import LocalModelSource, RightsizingRequest
from rightsizing.models.serverless import parse_serverless_label, serverless_quote
from rightsizing.ports import Backend, HistoryStore
from rightsizing.store import LocalStore, local_uri
from rightsizing_local.profiles import NOTIONAL_PRICE_LABEL, PROFILES, SERVERLESS_PROFILES

if TYPE_CHECKING:
    from rightsizing_local.fake_sagemaker import LocalSageMaker

LOCAL_IMAGE = "rightsizing-local/sklearn-model-server:1"
LOCAL_POLL_SECONDS = 1  # a local server is ready in ~2 s; AWS endpoints take minutes (30 s polls there)


class LocalPrices:
    def hourly_price(self, instance_type: str, region: str) -> PriceQuote:
        serverless = parse_serverless_label(instance_type)
        if serverless is not None and serverless.local:
            memory = SERVERLESS_PROFILES.get(serverless.memory_mb)
            if memory is None:
                raise PriceNotFound(f"{instance_type} has no local serverless profile")
            return serverless_quote(
                instance_type, "local", memory.usd_per_gb_second, 0.0, f"{NOTIONAL_PRICE_LABEL}, per GB-second"
            )
        profile = PROFILES.get(instance_type)
        if profile is None:
            raise PriceNotFound(f"{instance_type} is not a local profile")
        return PriceQuote(
            instance_type=instance_type, region="local", usd_per_hour=profile.usd_per_hour, source=NOTIONAL_PRICE_LABEL
        )


def check_local_request(request: RightsizingRequest) -> None:
    """What a local run refuses that the request model alone cannot tell: profiles this machine does not declare and
    AWS-only settings. Shared by the plan step's guard and ``rightsize validate``, so validate refuses what run would.
    """
    if request.load.worker_placement == "tasks":
        raise InvalidRequest(
            "load.worker_placement",
            "'tasks' starts each worker as a Fargate task of its own (AWS only); local runs use 'processes'",
        )
    problems = [
        (
            f"candidates.{index}.instance_type",
            f"unknown local profile {shown(candidate.instance_type)} (known: {', '.join(PROFILES)})"
            f"{did_you_mean(candidate.instance_type, PROFILES)}",
        )
        for index, candidate in enumerate(request.candidates)
        if candidate.serverless is None and candidate.instance_type not in PROFILES
    ]
    problems += [
        (
            f"candidates.{index}.serverless.memory_mb",
            f"local mode emulates serverless memory sizes {', '.join(str(m) for m in SERVERLESS_PROFILES)} "
            f"({', '.join(p.name for p in SERVERLESS_PROFILES.values())}), not {candidate.serverless.memory_mb}",
        )
        for index, candidate in enumerate(request.candidates)
        if candidate.serverless is not None and candidate.serverless.memory_mb not in SERVERLESS_PROFILES
    ]
    if problems:
        raise InvalidRequest(*problems[0], *problems[1:])


class LocalGuard:
    def __init__(self, sagemaker: LocalSageMaker) -> None:
        self._sagemaker = sagemaker

    def check(self, request: RightsizingRequest) -> None:
        check_local_request(request)
        for index, candidate in enumerate(request.candidates):
            if candidate.endpoint_name is not None:
                # Like AwsGuard: an existing endpoint must exist and run on the candidate's instance type.
                running = self._sagemaker.endpoint_instance_type(candidate.endpoint_name)
                if running != candidate.instance_type:
                    where = f"runs on {running}" if running else "does not exist"
                    raise InvalidRequest(
                        f"candidates.{index}.endpoint_name",
                        f"endpoint '{candidate.endpoint_name}' {where}, not {candidate.instance_type}",
                    )


class LocalContainers:
    def primary_container(self, request: RightsizingRequest, environment: dict[str, str]) -> dict[str, Any]:
        from rightsizing_local.model_server import ensure_builtin_model

        if not isinstance(request.model, LocalModelSource):  # the request model pairs local.* with model.type local
            raise InvalidRequest("model", "local profiles serve the bundled local model only (model.type 'local')")
        model_path = ensure_builtin_model(request.model.builtin)
        return {"Image": LOCAL_IMAGE, "ModelDataUrl": local_uri(model_path), "Environment": dict(environment)}


class LocalMetrics:
    """Server-side figures of the local endpoint, standing in for CloudWatch's /aws/sagemaker/Endpoints."""

    def __init__(self, sagemaker: LocalSageMaker) -> None:
        self._sagemaker = sagemaker

    def collect(self, candidate: CandidatePlan, start_epoch: float, end_epoch: float) -> dict[str, float]:
        return self._sagemaker.server_metrics(candidate.endpoint_name, start_epoch, end_epoch)


def local_backend(sagemaker: LocalSageMaker, history: HistoryStore | None = None) -> Backend:
    return Backend(
        mode="local",
        prices=LocalPrices(),
        store=LocalStore(),
        guard=LocalGuard(sagemaker),
        containers=LocalContainers(),
        metrics=LocalMetrics(sagemaker),
        default_poll_seconds=LOCAL_POLL_SECONDS,
        history=history,
    )
