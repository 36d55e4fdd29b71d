"""Choose the cheapest instance type x count that serves the target rate within the SLA. Pure: models in, models out.

The count is always rounded *up* (a fleet that serves 95 % of the target does not serve the target), and only the
within-SLA rate counts, never the saturation rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rightsizing.models.result import Alternative, CandidateResult, Recommendation
from rightsizing.pricing.quote import PriceQuote


@dataclass(frozen=True)
class Sizing:
    candidate: CandidateResult
    price: PriceQuote
    count: int

    @property
    def usd_per_hour(self) -> float:
        return self.count * self.price.usd_per_hour

    @property
    def latency_at_sla(self) -> float:
        return self.candidate.latency_ms.p99 if self.candidate.latency_ms else math.inf


def instances_needed(target_rps: float, per_instance_rps: float) -> int:
    """Round up: 2.01 instances' worth of load needs 3 instances."""
    if per_instance_rps <= 0:
        raise ValueError("per-instance rate must be positive")
    return max(1, math.ceil(target_rps / per_instance_rps - 1e-9))


def size_candidates(
    results: list[CandidateResult], prices: dict[str, PriceQuote | str], target_rps: float
) -> tuple[list[Sizing], list[Alternative]]:
    """Size every usable candidate; explain every unusable one."""
    sized: list[Sizing] = []
    rejected: list[Alternative] = []
    for result in results:
        price = prices.get(result.candidate_id)
        reason = _unusable_reason(result, price)
        if reason is not None:
            rejected.append(_alternative(result, None, None, reason))
            continue
        assert isinstance(price, PriceQuote) and result.sustainable_rps
        sized.append(Sizing(result, price, instances_needed(target_rps, result.sustainable_rps)))
    # Cheapest first; ties go to fewer instances, then lower tail latency.
    sized.sort(key=lambda s: (round(s.usd_per_hour, 6), s.count, s.latency_at_sla))
    return sized, rejected


def _unusable_reason(result: CandidateResult, price: PriceQuote | str | None) -> str | None:
    if result.status == "failed":
        return f"benchmark failed: {result.failure_reason}"
    if not result.sustainable_rps:
        return "no measured load met the latency SLA and error limit"
    if price is None:
        return "no price known"
    if isinstance(price, str):
        return f"not priced: {price}"
    return None


def recommend(
    results: list[CandidateResult], prices: dict[str, PriceQuote | str], target_rps: float
) -> tuple[Recommendation | None, str | None]:
    """The recommendation, or why there is none."""
    sized, rejected = size_candidates(results, prices, target_rps)
    if not sized:
        return None, _no_answer(results, rejected)
    best, *others = sized
    capacity = best.count * (best.candidate.sustainable_rps or 0.0)
    alternatives = [
        _alternative(
            s.candidate,
            s.count,
            s.usd_per_hour,
            f"costs ${s.usd_per_hour - best.usd_per_hour:.4f}/h more ({s.count} x ${s.price.usd_per_hour:.4f}/h)"
            if s.usd_per_hour > best.usd_per_hour + 1e-9
            else "same price; the recommended option needs fewer instances or has lower latency",
        )
        for s in others
    ]
    per_million = best.usd_per_hour / (target_rps * 3600) * 1_000_000
    return (
        Recommendation(
            candidate_id=best.candidate.candidate_id,
            instance_type=best.candidate.instance_type,
            environment=best.candidate.environment,
            instance_count=best.count,
            usd_per_hour=round(best.usd_per_hour, 6),
            usd_per_hour_per_instance=best.price.usd_per_hour,
            usd_per_million_inferences=round(per_million, 6),
            sustainable_rps_per_instance=best.candidate.sustainable_rps or 0.0,
            capacity_rps=round(capacity, 3),
            headroom_percent=round((capacity / target_rps - 1) * 100, 2),
            price_source=best.price.source,
            rationale=(
                f"{best.count} x {best.candidate.instance_type} sustains {capacity:.1f} RPS within the SLA "
                f"({best.candidate.sustainable_rps:.1f} RPS each, count rounded up) for ${best.usd_per_hour:.4f}/h, "
                f"the cheapest of {len(sized)} candidate(s) that can meet {target_rps:g} RPS"
            ),
            alternatives=alternatives + rejected,
        ),
        None,
    )


def _no_answer(results: list[CandidateResult], rejected: list[Alternative]) -> str:
    reasons = "; ".join(f"{a.candidate_id}: {a.reason}" for a in rejected)
    measured = [r for r in results if r.status == "succeeded" and r.saturation_rps]
    if not measured:
        return f"no candidate could be benchmarked: {reasons}"
    if any(r.sustainable_rps for r in measured):
        return f"candidates met the SLA but none could be recommended: {reasons}"
    closest = max(measured, key=lambda r: r.saturation_rps or 0.0)
    return (
        f"no candidate met the latency SLA within the error limit; closest was {closest.instance_type} "
        f"(throughput up to {closest.saturation_rps:.1f} RPS). "
        "Try larger or compute-optimised instance types, more model server workers, or a looser SLA."
    )


def _alternative(result: CandidateResult, count: int | None, usd: float | None, reason: str) -> Alternative:
    return Alternative(
        candidate_id=result.candidate_id,
        instance_type=result.instance_type,
        environment=result.environment,
        instance_count=count,
        usd_per_hour=round(usd, 6) if usd is not None else None,
        reason=reason,
    )
