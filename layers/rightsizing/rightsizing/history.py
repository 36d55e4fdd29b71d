"""A model's run history, pure: which history a run joins, its record, and what changed since the previous run.

No I/O here: the Recommend step reads and writes records through ``Backend.history`` (DynamoDB on AWS, a
JSON-lines file locally), and the CLI compares records it has read.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from rightsizing.models.history import (
    DEFAULT_CHANGE_THRESHOLD_PERCENT,
    CandidateCapacity,
    CandidateDelta,
    ChangeReason,
    RecommendationChange,
    RecommendationState,
    RecordedRecommendation,
    RunComparison,
    RunRecord,
)
from rightsizing.models.request import ContainerModelSource, LocalModelSource, ModelPackageSource, RightsizingRequest
from rightsizing.models.result import RunResult

LOCAL_PREFIX = "local/"
# arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>: a registered version of a group
VERSIONED_PACKAGE = re.compile(r"^(arn:[^:]+:sagemaker:[^:]+:\d{12}):model-package/([^/]+)/(\d+)$")


def model_key(request: RightsizingRequest) -> str:
    """The history a run of ``request`` joins: ``history.model_key`` when given, else the model's stable identity:

    - a versioned model package: its group's ARN (``…:model-package-group/<group>``), so each new approved version
      is compared with the one before;
    - an unversioned (e.g. Marketplace) package: its ARN;
    - a container: ``<image>,<model_data_url>`` (the image alone without model data);
    - local: ``local/<builtin>``.

    A local run's key always starts with ``local/`` (an explicit key included), so local and AWS histories never mix.
    """
    source = request.model
    explicit = request.history.model_key
    if isinstance(source, LocalModelSource):
        key = explicit or source.builtin
        return key if key.startswith(LOCAL_PREFIX) else LOCAL_PREFIX + key
    if explicit:
        return explicit
    if isinstance(source, ModelPackageSource):
        versioned = VERSIONED_PACKAGE.match(source.model_package_arn)
        if versioned:
            return f"{versioned[1]}:model-package-group/{versioned[2]}"
        return source.model_package_arn
    if isinstance(source, ContainerModelSource):
        return f"{source.image},{source.model_data_url}" if source.model_data_url else source.image
    raise TypeError(f"unknown model source {type(source).__name__}")


def model_reference(request: RightsizingRequest) -> str:
    """The exact model benchmarked (a package version, not its group)."""
    source = request.model
    if isinstance(source, ModelPackageSource):
        return source.model_package_arn
    if isinstance(source, ContainerModelSource):
        return f"{source.image},{source.model_data_url}" if source.model_data_url else source.image
    return f"{LOCAL_PREFIX}{source.builtin}"


def request_hash(request: RightsizingRequest) -> str:
    """sha256 of the request as canonical JSON (sorted keys, defaults filled in): equal requests, equal hashes."""
    text = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def run_record(
    run: RunResult, request: RightsizingRequest, finished_at: datetime, estimated_cost_usd: float | None = None
) -> RunRecord:
    """The history record of a finished run (its result.json and the request it ran)."""
    rec = run.recommendation
    sized = {a.candidate_id: a for a in rec.alternatives} if rec else {}
    candidates = []
    for c in run.candidates:
        quote = run.prices.get(c.candidate_id)
        chosen = rec is not None and rec.candidate_id == c.candidate_id
        alternative = sized.get(c.candidate_id)
        candidates.append(
            CandidateCapacity(
                candidate_id=c.candidate_id,
                instance_type=c.instance_type,
                environment=c.environment,
                status=c.status,
                sustainable_rps=c.sustainable_rps,
                instances_for_target=rec.instance_count
                if rec and chosen
                else (alternative.instance_count if alternative else None),
                usd_per_hour_per_instance=quote.usd_per_hour if quote else None,
                usd_per_hour_for_target=rec.usd_per_hour
                if rec and chosen
                else (alternative.usd_per_hour if alternative else None),
                price_source=quote.source if quote else run.price_errors.get(c.candidate_id),
                failure_reason=c.failure_reason,
            )
        )
    return RunRecord(
        model_key=model_key(request),
        run_id=run.run_id,
        finished_at=finished_at,
        mode=run.mode,
        region=run.region,
        request_name=request.name,
        request_hash=request_hash(request),
        model=model_reference(request),
        traffic=run.traffic,
        sla=run.sla,
        recommendation=RecordedRecommendation(
            candidate_id=rec.candidate_id,
            instance_type=rec.instance_type,
            environment=rec.environment,
            instance_count=rec.instance_count,
            usd_per_hour=rec.usd_per_hour,
            usd_per_hour_per_instance=rec.usd_per_hour_per_instance,
            price_source=rec.price_source,
        )
        if rec
        else None,
        no_recommendation_reason=run.no_recommendation_reason,
        candidates=candidates,
        estimated_run_cost_usd=estimated_cost_usd,
        run_cost_usd=run.cost.measured_usd if run.cost else None,
        artifacts=dict(run.artifacts),
    )


def state_of(record: RunRecord) -> RecommendationState:
    rec = record.recommendation
    return RecommendationState(
        run_id=record.run_id,
        finished_at=record.finished_at,
        instance_type=rec.instance_type if rec else None,
        instance_count=rec.instance_count if rec else None,
        usd_per_hour=rec.usd_per_hour if rec else None,
        request_hash=record.request_hash,
    )


def percent_change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return round((after - before) / before * 100, 2)


def _moved(before: RunRecord, after: RunRecord) -> tuple[list[ChangeReason], float | None]:
    """How the answer moved, any cost move included; and the cost change in percent."""
    old, new = before.recommendation, after.recommendation
    if old is None and new is None:
        return [], None
    if old is None or new is None:
        return ["recommended"], None
    reasons: list[ChangeReason] = []
    if old.instance_type != new.instance_type or old.environment != new.environment:
        reasons.append("instance_type")
    if old.instance_count != new.instance_count:
        reasons.append("instance_count")
    cost = percent_change(old.usd_per_hour, new.usd_per_hour)
    if cost:
        reasons.append("hourly_cost")
    return reasons, cost


def detect_change(
    previous: RunRecord | None, current: RunRecord, threshold_percent: float = DEFAULT_CHANGE_THRESHOLD_PERCENT
) -> RecommendationChange | None:
    """The change to announce, or None: the first run of a model, or an answer that held.

    Changed: a recommendation appeared or disappeared, the type (or its environment) or the count changed, or the
    fleet's $/h moved by more than ``threshold_percent`` (strictly) either way.
    """
    if previous is None:
        return None
    reasons, cost = _moved(previous, current)
    if "hourly_cost" in reasons and (cost is None or abs(cost) <= threshold_percent):
        reasons.remove("hourly_cost")
    if not reasons:
        return None
    return RecommendationChange(
        reasons=reasons,
        before=state_of(previous),
        after=state_of(current),
        cost_change_percent=cost,
        threshold_percent=threshold_percent,
        request_changed=previous.request_hash != current.request_hash,
    )


def _key(candidate: CandidateCapacity) -> tuple[str, tuple[tuple[str, str], ...]]:
    return candidate.instance_type, tuple(sorted(candidate.environment.items()))


def compare_runs(a: RunRecord, b: RunRecord) -> RunComparison:
    """What moved from run A to run B. Candidates are matched by instance type and environment (their ids carry
    their place in the plan, which can differ between runs); one only one run benchmarked has None on the other."""
    reasons, cost = _moved(a, b)
    in_a = {_key(c): c for c in a.candidates}
    in_b = {_key(c): c for c in b.candidates}
    deltas = []
    for key in [*in_a, *(k for k in in_b if k not in in_a)]:
        x, y = in_a.get(key), in_b.get(key)
        deltas.append(
            CandidateDelta(
                instance_type=key[0],
                environment=dict(key[1]),
                status=(x.status if x else None, y.status if y else None),
                sustainable_rps=(x.sustainable_rps if x else None, y.sustainable_rps if y else None),
                sustainable_rps_change_percent=percent_change(
                    x.sustainable_rps if x else None, y.sustainable_rps if y else None
                ),
                instances_for_target=(x.instances_for_target if x else None, y.instances_for_target if y else None),
                usd_per_hour_per_instance=(
                    x.usd_per_hour_per_instance if x else None,
                    y.usd_per_hour_per_instance if y else None,
                ),
                price_change_percent=percent_change(
                    x.usd_per_hour_per_instance if x else None, y.usd_per_hour_per_instance if y else None
                ),
                usd_per_hour_for_target=(
                    x.usd_per_hour_for_target if x else None,
                    y.usd_per_hour_for_target if y else None,
                ),
            )
        )
    return RunComparison(
        run_a=state_of(a),
        run_b=state_of(b),
        same_model=a.model_key == b.model_key,
        model_keys=(a.model_key, b.model_key),
        changed=reasons,
        cost_change_percent=cost,
        request_changed=a.request_hash != b.request_hash,
        candidates=deltas,
    )
