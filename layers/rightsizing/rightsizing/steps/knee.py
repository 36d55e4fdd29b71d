"""The knee curve of a run: each candidate's curve from its trace, and the cheapest fleet at each bound."""

from __future__ import annotations

from rightsizing.models.knee import KneeSummary
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import RightsizingRequest
from rightsizing.models.result import ProbeRecord, RunResult
from rightsizing.recommender import knee_choices
from rightsizing.search.knee import KneeRules, MainAnswer, knee_curve


def add_knee(
    run: RunResult,
    request: RightsizingRequest,
    traces: dict[str, list[ProbeRecord]],
    prices: dict[str, PriceQuote | str],
    bytes_per_request: float = 0.0,
) -> None:
    """Set ``knee`` on every candidate with a trace, and the run's cheapest choice per bound. A candidate that was
    measured keeps its answer as the SLA bound's capacity; one that failed gets what its probes show, if anything."""
    rules = KneeRules(request.sla, request.max_error_rate, request.load.precision)
    bounds = request.knee_bounds_ms
    for index, candidate in enumerate(run.candidates):
        trace = traces.get(candidate.candidate_id)
        if not trace or candidate.status == "skipped":
            continue
        answer = (
            None
            if candidate.status == "failed"
            else MainAnswer(candidate.sustainable_rps or 0.0, candidate.lower_bound)
        )
        curve = knee_curve(trace, rules, bounds, answer)
        run.candidates[index] = candidate.model_copy(update={"knee": curve})
    choices = knee_choices(
        run.candidates,
        prices,
        request.traffic,
        bounds,
        request.sla.milliseconds,
        request.sizing,
        request.sla.percentile,
        bytes_per_request,
    )
    run.knee = KneeSummary(percentile=request.sla.percentile, bounds_ms=bounds, choices=choices)
