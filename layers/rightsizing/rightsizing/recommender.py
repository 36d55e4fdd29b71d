"""Choose the cheapest instance type x count that serves the target rate within the SLA. Pure: models in, models out.

The count is always rounded *up* (a fleet that serves 95 % of the target does not serve the target), and only the
within-SLA rate counts, never the saturation rate. A generator-limited candidate (status ``lower_bound``) is
sized on its floor: the fleet then serves the target, perhaps with more instances than needed, and the rationale
says so. A fleet of N > 1 instances is assumed to sustain only ``scaling_efficiency`` x N x the single-instance
rate: SageMaker routes each request to a random instance by default, so instances fill unevenly and the busiest one
breaks the SLA before the fleet's average does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rightsizing.models.common import UNMEASURED, Percentile
from rightsizing.models.knee import KneeChoice
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import SizingOptions
from rightsizing.models.result import Alternative, AutoscalingSuggestion, CandidateResult, Recommendation
from rightsizing.models.serverless import ServerlessSizing, cost_at_rate, parse_serverless_label
from rightsizing.models.targets import TrafficTarget

EPSILON = 1e-9  # 300 / 100 must be exactly 3 instances, not 4 after floating-point noise


@dataclass(frozen=True)
class Sizing:
    candidate: CandidateResult
    price: PriceQuote
    count: int
    capacity_rps: float
    usd_per_hour_on_demand: float
    usd_per_hour: float
    latency_at_sla: float
    serverless: ServerlessSizing | None = None  # priced per use at the target rate: one endpoint, count 1
    rate_rps: float = 0.0  # the per-instance rate sized on: the figure, or with trials their mean or low end


def sizing_rate(result: CandidateResult, size_on: str = "mean") -> float:
    """The per-instance rate a fleet is sized on. ``sustainable_rps`` is already the trials' mean; with
    ``size_on: lower_bound`` it is the lower end of their 95 % interval (when there is one: a single measured trial
    has none, and its figure is used, as the rationale says)."""
    stats = result.trials
    if size_on == "lower_bound" and stats is not None and stats.ci95_low_rps is not None:
        return stats.ci95_low_rps
    return result.sustainable_rps or 0.0


def instances_needed(target_rps: float, per_instance_rps: float, efficiency: float = 1.0, minimum: int = 1) -> int:
    """Round up: 2.01 instances' worth of load needs 3 instances. Efficiency applies only to fleets of 2 or more."""
    if per_instance_rps <= 0:
        raise ValueError("per-instance rate must be positive")
    if not 0 < efficiency <= 1:
        raise ValueError("scaling efficiency must be in (0, 1]")
    needed = (
        1
        if target_rps <= per_instance_rps * (1 + EPSILON)
        else math.ceil(target_rps / (per_instance_rps * efficiency) - EPSILON)
    )
    return max(minimum, needed)


def fleet_capacity(count: int, per_instance_rps: float, efficiency: float) -> float:
    """Within-SLA rate of ``count`` instances under the efficiency assumption."""
    return count * per_instance_rps * (efficiency if count > 1 else 1.0)


def size_candidates(
    results: list[CandidateResult],
    prices: dict[str, PriceQuote | str],
    target_rps: float,
    options: SizingOptions | None = None,
    percentile: Percentile = "p95",
    bytes_per_request: float = 0.0,
) -> tuple[list[Sizing], list[Alternative]]:
    """Size every usable candidate, ranked best first; explain every unusable one. A serverless candidate is one
    endpoint priced per use at the target rate (``size_serverless``)."""
    options = options or SizingOptions()
    discount = 1 - options.savings_plan_discount_percent / 100
    sized: list[Sizing] = []
    rejected: list[Alternative] = []
    for result in results:
        price = prices.get(result.candidate_id)
        reason = _unusable_reason(result, price) or _interval_reason(result, options.size_on)
        if reason is not None:
            rejected.append(_alternative(result, None, None, reason))
            continue
        assert isinstance(price, PriceQuote) and result.sustainable_rps
        rate = sizing_rate(result, options.size_on)
        if price.usd_per_gb_second is not None:
            outcome = size_serverless(result, price, target_rps, discount, bytes_per_request, percentile, rate)
            if isinstance(outcome, str):
                rejected.append(_alternative(result, None, None, outcome))
            else:
                sized.append(outcome)
            continue
        count = instances_needed(target_rps, rate, options.scaling_efficiency, options.min_instances)
        on_demand = count * price.usd_per_hour
        latency = result.latency_ms.at(percentile) if result.latency_ms else math.inf
        capacity = fleet_capacity(count, rate, options.scaling_efficiency)
        sized.append(Sizing(result, price, count, capacity, on_demand, on_demand * discount, latency, rate_rps=rate))
    # Cheapest first; ties go to fewer instances, then lower latency at the SLA's own percentile.
    sized.sort(key=lambda s: (round(s.usd_per_hour, 6), s.count, s.latency_at_sla))
    return sized, rejected


def size_serverless(
    result: CandidateResult,
    price: PriceQuote,
    target_rps: float,
    discount: float,
    bytes_per_request: float,
    percentile: Percentile,
    rate: float | None = None,
) -> Sizing | str:
    """One serverless endpoint at the target rate, or why it cannot carry it.

    Its within-SLA rate was measured with at most MaxConcurrency requests in flight, so a target above it cannot be
    met by this endpoint (more concurrency, up to 200, or a real-time instance can). Below it, the bill is the
    compute the target uses: rate x seconds per request x memory GB x $/GB-s x 3600, plus request bytes processed.
    """
    label = parse_serverless_label(result.instance_type)
    rate = (result.sustainable_rps or 0.0) if rate is None else rate  # with trials: their mean or interval's low end
    latency = result.latency_ms
    if label is None or latency is None or price.usd_per_gb_second is None:
        return "serverless candidate without a measured latency or per-use price"
    seconds = latency.p50 / 1000
    if target_rps > rate * (1 + EPSILON):
        return (
            f"one serverless endpoint with MaxConcurrency {label.max_concurrency} sustains {rate:.1f} RPS within the "
            f"SLA, short of {target_rps:g} RPS (which needs ~{target_rps * seconds:.1f} requests in flight at "
            f"{latency.p50:.1f} ms each, if the SLA still holds); raise max_concurrency (at most 200) or use a "
            "real-time instance"
        )
    per_gb = price.usd_per_gb_processed or 0.0
    cost = cost_at_rate(target_rps, seconds, label.memory_gb, price.usd_per_gb_second, bytes_per_request, per_gb)
    details = ServerlessSizing(
        memory_mb=label.memory_mb,
        max_concurrency=label.max_concurrency,
        target_rps=target_rps,
        seconds_per_request=round(seconds, 6),
        concurrency_needed=round(cost.concurrency_needed, 3),
        usd_per_gb_second=price.usd_per_gb_second,
        compute_usd_per_hour=round(cost.compute_usd_per_hour, 6),
        data_usd_per_hour=round(cost.data_usd_per_hour, 6),
        bytes_per_request=bytes_per_request,
        cold_start_ms=result.cold_start.first_ms if result.cold_start else None,
    )
    at_rate = price.model_copy(update={"usd_per_hour": cost.usd_per_hour})
    on_demand = cost.usd_per_hour
    return Sizing(result, at_rate, 1, rate, on_demand, on_demand * discount, latency.at(percentile), details, rate)


def _unusable_reason(result: CandidateResult, price: PriceQuote | str | None) -> str | None:
    if result.status == "failed":
        return f"benchmark failed: {result.failure_reason}"
    if result.status == "skipped":
        return f"not measured: {result.failure_reason}"
    if not result.sustainable_rps:
        return "no measured load met the latency SLA and error limit"
    if price is None:
        return "no price known"
    if isinstance(price, str):
        return f"not priced: {price}"
    return None


def _interval_reason(result: CandidateResult, size_on: str) -> str | None:
    """Sized on the interval's lower end, a candidate whose interval reaches 0 has no rate to size on."""
    stats = result.trials
    if size_on != "lower_bound" or stats is None or stats.ci95_low_rps is None or stats.ci95_low_rps > 0:
        return None
    return (
        f"its trials disagree too much to size on the 95 % interval's lower end ({stats.ci95_low_rps:.1f} RPS; "
        f"mean {stats.mean_rps or 0:.1f}, trials {stats.min_rps or 0:.1f}-{stats.max_rps or 0:.1f} RPS)"
    )


def recommend(
    results: list[CandidateResult],
    prices: dict[str, PriceQuote | str],
    traffic: TrafficTarget,
    options: SizingOptions | None = None,
    *,
    percentile: Percentile = "p95",
    bytes_per_request: float = 0.0,
) -> tuple[Recommendation | None, str | None]:
    """The recommendation for the traffic's sizing rate (the top of a range), or why there is none.

    The bottom of a range sizes the autoscaling minimum; a fixed target gets a fixed fleet.
    """
    options = options or SizingOptions()
    target_rps = traffic.sizing_rps
    sized, rejected = size_candidates(results, prices, target_rps, options, percentile, bytes_per_request)
    if not sized:
        return None, _no_answer(results, rejected)
    best = sized[0]
    alternatives = [_lost_to(best, s, rank, percentile) for rank, s in enumerate(sized[1:], start=2)]
    per_instance = best.rate_rps
    hours_of_load = target_rps * 3600
    return (
        Recommendation(
            candidate_id=best.candidate.candidate_id,
            instance_type=best.candidate.instance_type,
            environment=best.candidate.environment,
            instance_count=best.count,
            usd_per_hour=round(best.usd_per_hour, 6),
            usd_per_hour_per_instance=best.price.usd_per_hour,
            usd_per_million_inferences=round(best.usd_per_hour / hours_of_load * 1_000_000, 6),
            sustainable_rps_per_instance=per_instance,
            capacity_rps=round(best.capacity_rps, 3),
            headroom_percent=round((best.capacity_rps / target_rps - 1) * 100, 2),
            price_source=best.price.source,
            rationale=_rationale(best, target_rps, len(sized), options),
            alternatives=alternatives + rejected,
            usd_per_hour_on_demand=round(best.usd_per_hour_on_demand, 6),
            savings_plan_discount_percent=options.savings_plan_discount_percent,
            # per use, a serverless endpoint's cost per inference is the same at any rate it carries
            usd_per_inference_at_capacity=best.usd_per_hour
            / ((target_rps if best.serverless else best.capacity_rps) * 3600),
            latency_ms_at_sla_percentile=best.latency_at_sla if math.isfinite(best.latency_at_sla) else None,
            autoscaling=None
            if best.serverless
            else autoscaling_advice(best, traffic.range_floor or target_rps, target_rps, options),
            lower_bound=best.candidate.lower_bound,
            serverless=best.serverless,
            size_on=options.size_on,
        ),
        None,
    )


def autoscaling_advice(best: Sizing, min_rps: float, max_rps: float, options: SizingOptions) -> AutoscalingSuggestion:
    """Target tracking on SageMakerVariantInvocationsPerInstance, bounded by the counts for min and max traffic.

    The target is AWS's load-test guidance: the within-SLA rate x a safety factor x 60 (the metric is per minute).
    """
    rate = best.rate_rps
    low = min(best.count, instances_needed(min_rps, rate, options.scaling_efficiency, options.min_instances))
    discount = 1 - options.savings_plan_discount_percent / 100
    return AutoscalingSuggestion(
        min_instance_count=low,
        max_instance_count=best.count,
        min_rps=min_rps,
        max_rps=max_rps,
        invocations_per_instance_target=round(rate * options.autoscaling_safety_factor * 60, 1),
        safety_factor=options.autoscaling_safety_factor,
        usd_per_hour_at_min=round(low * best.price.usd_per_hour * discount, 6),
        usd_per_hour_at_max=round(best.usd_per_hour, 6),
    )


def _rationale(best: Sizing, target_rps: float, feasible: int, options: SizingOptions) -> str:
    if best.serverless is not None:
        return _serverless_rationale(best, best.serverless, feasible)
    rate = best.rate_rps
    scaling = f" x {options.scaling_efficiency:g} scaling efficiency" if best.count > 1 else ""
    minimum = f", at least {options.min_instances}" if options.min_instances > 1 else ""
    discount = (
        f" after a {options.savings_plan_discount_percent:g} % Savings Plan discount "
        f"(${best.usd_per_hour_on_demand:.4f}/h on demand)"
        if options.savings_plan_discount_percent
        else ""
    )
    at_least = "at least " if best.candidate.lower_bound else ""
    return (
        f"{best.count} x {best.candidate.instance_type} sustains {at_least}{best.capacity_rps:.1f} RPS within the "
        f"SLA ({at_least}{rate:.1f} RPS each{scaling}, count rounded up{minimum}) for "
        f"${best.usd_per_hour:.4f}/h{discount}, the cheapest of {feasible} candidate(s) that can meet "
        f"{target_rps:g} RPS" + _trials_note(best.candidate, options.size_on) + _floor_note(best.candidate)
    )


def _trials_note(candidate: CandidateResult, size_on: str) -> str:
    """What the per-instance rate is when it comes from repeated trials."""
    stats = candidate.trials
    if stats is None or stats.mean_rps is None:
        return ""
    if not stats.has_interval:
        return f"; one of {stats.requested} trials measured, so no interval: its figure is used"
    interval = f"95 % interval {stats.ci95_low_rps:.1f}-{stats.ci95_high_rps:.1f} RPS over {stats.measured} trials"
    if size_on == "lower_bound":
        return f"; sized on the lower end of the {interval} (mean {stats.mean_rps:.1f})"
    return f"; the rate is the mean of {stats.measured} trials ({interval})"


def _serverless_rationale(best: Sizing, cost: ServerlessSizing, feasible: int) -> str:
    cold = f"; its cold start ({cost.cold_start_ms:.0f} ms) is not in the SLA verdict" if cost.cold_start_ms else ""
    data = f" + ${cost.data_usd_per_hour:.4f}/h data in" if cost.data_usd_per_hour else ""
    return (
        f"1 serverless endpoint ({cost.memory_mb} MB, MaxConcurrency {cost.max_concurrency}) sustains "
        f"{best.capacity_rps:.1f} RPS within the SLA; at {cost.target_rps:g} RPS it computes "
        f"{cost.target_rps:g} x {cost.seconds_per_request * 1000:.1f} ms x {cost.memory_mb / 1024:g} GB x "
        f"${_rate(cost.usd_per_gb_second)}/GB-s x 3600 = ${cost.compute_usd_per_hour:.4f}/h{data} "
        f"(~{cost.concurrency_needed:.1f} requests in flight of {cost.max_concurrency}), the cheapest of "
        f"{feasible} candidate(s) that can meet {cost.target_rps:g} RPS{cold}" + _floor_note(best.candidate)
    )


def _rate(usd: float) -> str:
    """A small unit price in plain decimals: 0.00002, not 2e-05."""
    return f"{usd:.10f}".rstrip("0").rstrip(".")


def _floor_note(candidate: CandidateResult) -> str:
    """Said wherever a generator-limited figure is used: it is a floor, so the count sized on it may be too high."""
    if not candidate.lower_bound:
        return ""
    return (
        f"; {candidate.sustainable_rps or 0:.1f} RPS is a lower bound ({candidate.floor_cause}), so fewer "
        "instances may do"
    )


def _lost_to(best: Sizing, other: Sizing, rank: int, percentile: Percentile) -> Alternative:
    """Why ``other`` ranks below ``best``: price first, then instance count, then latency."""
    if other.usd_per_hour > best.usd_per_hour + EPSILON:
        reason = (
            f"costs ${other.usd_per_hour - best.usd_per_hour:.4f}/h more "
            f"({other.count} x ${other.price.usd_per_hour:.4f}/h)"
        )
    elif other.count > best.count:
        reason = f"same price; needs more instances ({other.count} vs {best.count})"
    else:
        reason = (
            f"same price and count; higher {percentile} latency "
            f"({other.latency_at_sla:.1f} ms vs {best.latency_at_sla:.1f} ms)"
        )
    if other.serverless is not None and other.usd_per_hour > best.usd_per_hour + EPSILON:
        reason = f"costs ${other.usd_per_hour - best.usd_per_hour:.4f}/h more (serverless, per use at the target)"
    alternative = _alternative(other.candidate, other.count, other.usd_per_hour, reason + _floor_note(other.candidate))
    update = {"rank": rank, "capacity_rps": round(other.capacity_rps, 3), "serverless": other.serverless}
    return alternative.model_copy(update=update)


def _no_answer(results: list[CandidateResult], rejected: list[Alternative]) -> str:
    reasons = "; ".join(f"{a.candidate_id}: {a.reason}" for a in rejected)
    measured = [r for r in results if r.status not in UNMEASURED and r.saturation_rps]
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


def knee_choices(
    results: list[CandidateResult],
    prices: dict[str, PriceQuote | str],
    traffic: TrafficTarget,
    bounds_ms: list[float],
    sla_ms: float,
    options: SizingOptions | None = None,
    percentile: Percentile = "p95",
    bytes_per_request: float = 0.0,
) -> list[KneeChoice]:
    """The cheapest fleet for the target at each knee bound, by the same sizing as the answer: each candidate sized
    on its capacity within that bound (``CandidateResult.knee``). At the SLA's bound that is the answer itself."""
    choices = []
    for bound in bounds_ms:
        is_sla = math.isclose(bound, sla_ms)
        usable: list[CandidateResult] = []
        left_out: list[str] = []
        for result in results:
            at_bound = result if is_sla else _at_bound(result, bound)
            if isinstance(at_bound, str):
                left_out.append(f"{result.candidate_id} ({at_bound})")
            else:
                usable.append(at_bound)
        sized, _ = size_candidates(usable, prices, traffic.sizing_rps, options, percentile, bytes_per_request)
        unsized = "; not sized at this bound: " + ", ".join(left_out) if left_out else ""
        if not sized:
            choices.append(KneeChoice(milliseconds=bound, sla=is_sla, note="no candidate can be sized" + unsized))
            continue
        best = sized[0]
        floor = "sized on a lower bound: fewer instances may do" if best.candidate.lower_bound else ""
        choices.append(
            KneeChoice(
                milliseconds=bound,
                sla=is_sla,
                candidate_id=best.candidate.candidate_id,
                instance_type=best.candidate.instance_type,
                instance_count=best.count,
                usd_per_hour=round(best.usd_per_hour, 6),
                capacity_rps=round(best.capacity_rps, 3),
                lower_bound=best.candidate.lower_bound,
                note=(floor + unsized).removeprefix("; "),
            )
        )
    return choices


def _at_bound(result: CandidateResult, bound: float) -> CandidateResult | str:
    """The candidate as if the SLA were ``bound``: its within-bound rate, a floor when that is one; or why not."""
    if result.status in UNMEASURED:
        return result.status
    capacity = result.knee.at(bound) if result.knee else None
    if capacity is None:
        return "no curve"
    if not capacity.capacity_rps:
        return capacity.note or "no rate met it"
    status = "lower_bound" if capacity.status == "lower_bound" else "succeeded"
    return result.model_copy(update={"sustainable_rps": capacity.capacity_rps, "status": status})
