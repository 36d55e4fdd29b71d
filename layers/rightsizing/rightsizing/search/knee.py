"""The knee curve: capacity at several latency bounds from one search's probes, plus the few probes still needed.

Every probe the search made is a point (offered and completed rate, latency percentiles, errors). For a bound B at
the SLA's percentile, a probe *meets* B when its latency there is within B, its errors within the limit and (open
loop) it kept up with the offered rate; probes the search itself did not count do not count here either (warm-up,
invalid because the generator was the limit, re-measured, withdrawn by a failed confirmation). The capacity at B is
the highest completed rate whose probe met B; the lowest offered rate above it that failed B closes the bracket.

Two rules keep the verdicts sound across bounds:

- for a bound at or below the SLA a probe meets it only if it also met the SLA by the search's own rules (a
  failure there, e.g. a pass with disagreeing windows after a failure, is a failure at any tighter bound);
- a probe that stopped early (fail-fast: its failure against the bound it was run for was certain) fails that bound
  and every tighter one, and says nothing about a looser one: it stopped while its queue was still growing. A
  search probe that stopped early because its pass was already clear is judged on its figures, as a full one is.

The SLA's capacity is the search's answer, never recomputed here. ``KneeProbing`` adds open-loop probes after the
search for the bounds left unbracketed, within the time left and a probe count: looser bounds first probe where the
search's stopped-early failures were, then bracket and interpolate as the adaptive search does.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Literal, cast

from rightsizing.models.knee import BoundCapacity, BoundStatus, KneeCurve, KneePoint
from rightsizing.models.result import ProbeRecord
from rightsizing.models.targets import LatencySla
from rightsizing.search.adaptive import (
    CEILING_MARGIN,
    KEEP_UP_RATIO,
    PLANNED_MIN_SECONDS,
    WINDOWS,
    WITHDRAWN,
    Bracket,
    generator_ok,
)
from rightsizing.search.base import Clock, FailFast, ProbeCallback, RateProbe, SlaCheck
from rightsizing.search.session import ProbeSession

MAX_PROBES_PER_BOUND = 3  # an unresolved bound after this many is left as measured so far: others get their turn


@dataclass(frozen=True)
class KneeRules:
    """What a probe is judged against: the SLA (its percentile for every bound), the error limit, the precision."""

    sla: LatencySla
    max_error_rate: float
    precision: float = 0.05


@dataclass(frozen=True)
class MainAnswer:
    """The search's answer (the SLA bound's capacity), as the candidate reports it."""

    rps: float
    lower_bound: bool = False


def deciding(records: list[ProbeRecord]) -> list[ProbeRecord]:
    """The probes that decide capacity: open loop once the search ran any (closed loop hides the queue), else the
    search's own steps (stepped, phases, ramp)."""
    measured = [r for r in records if r.kind != "warmup"]
    return [r for r in measured if r.kind == "open"] or measured


def offered(record: ProbeRecord) -> float:
    return record.target_rps if record.target_rps else record.rps


def _latency(record: ProbeRecord, rules: KneeRules) -> float | None:
    return record.latency_ms.at(rules.sla.percentile) if record.latency_ms else None


def judge(record: ProbeRecord, bound_ms: float, rules: KneeRules) -> bool | None:
    """Whether ``record`` met ``bound_ms``: True, False, or None when it is no verdict at that bound."""
    if record.kind == "warmup" or not record.valid or record.remeasured or record.note.startswith(WITHDRAWN):
        return None
    sla_ms = rules.sla.milliseconds
    run_for = record.knee_bound_ms if record.knee_bound_ms is not None else sla_ms
    if record.stopped_early and not record.passed:
        return False if bound_ms <= run_for else None
    # A search probe that stopped early because its pass was clear is a measurement like any other.
    latency = _latency(record, rules)
    within = latency is not None and latency <= bound_ms
    if bound_ms <= sla_ms:
        return record.passed and within
    if record.passed:
        return True
    kept_up = record.target_rps is None or record.rps >= KEEP_UP_RATIO * record.target_rps
    return within and record.requests > 0 and record.error_rate <= rules.max_error_rate and kept_up


def knee_points(records: list[ProbeRecord]) -> list[KneePoint]:
    """The deciding probes that measured a latency, as points of the curve (in the order they ran)."""
    return [
        KneePoint(
            index=r.index,
            kind=cast(Literal["closed", "open", "ramp"], r.kind),
            offered_rps=r.target_rps,
            rps=r.rps,
            latency_ms=r.latency_ms,
            error_rate=r.error_rate,
            passed=r.passed,
            valid=r.valid,
            bound_ms=r.knee_bound_ms,
        )
        for r in deciding(records)
        if r.latency_ms is not None
    ]


def bound_capacity(
    records: list[ProbeRecord], bound_ms: float, rules: KneeRules, answer: MainAnswer | None = None
) -> BoundCapacity:
    """Capacity within ``bound_ms`` from the probes; for the SLA's bound, the search's ``answer`` when given."""
    points = deciding(records)
    verdicts = [(r, judge(r, bound_ms, rules)) for r in points]
    best = max((r for r, v in verdicts if v), key=lambda r: (r.rps, -r.index), default=None)
    floor = offered(best) if best else 0.0
    failed_rps = min((offered(r) for r, v in verdicts if v is False and offered(r) > floor), default=None)
    generator_top = min((offered(r) for r in points if not r.valid and offered(r) > floor), default=None)
    generator_limited = generator_top is not None and (failed_rps is None or generator_top < failed_rps)
    capacity = best.rps if best else None
    status: BoundStatus
    if best is not None:
        status = "measured" if failed_rps is not None else "lower_bound"
        note = _bracket_note(status, best.rps, failed_rps, generator_top if generator_limited else None)
    elif failed_rps is not None:
        status, note = "upper_bound", f"no probed rate met it: below {failed_rps:.1f} RPS"
    else:
        status, note = "not_measured", "no probe measured it"
    latency = _latency(best, rules) if best else None
    is_sla = math.isclose(bound_ms, rules.sla.milliseconds)
    if is_sla and answer is not None and answer.rps > 0:
        if capacity is None or answer.rps > capacity + 1e-9:  # the search's floor from a closed-loop step
            capacity, latency = answer.rps, None
        status = "lower_bound" if answer.lower_bound else "measured"
        note = "the search's answer" + (" (a lower bound)" if answer.lower_bound else "")
    precise = (
        status == "measured"
        and capacity is not None
        and (is_sla or (failed_rps is not None and (failed_rps - capacity) <= rules.precision * capacity))
    )
    return BoundCapacity(
        milliseconds=bound_ms,
        sla=is_sla,
        status=status,
        capacity_rps=capacity,
        failed_rps=failed_rps,
        latency_ms=None if latency is None else round(latency, 3),
        precise=precise,
        generator_limited=generator_limited and status != "measured",
        note=note,
    )


def _bracket_note(status: str, rps: float, failed: float | None, generator: float | None) -> str:
    if status == "measured" and failed is not None:
        return f"{rps:.1f} RPS met it, {failed:.1f} RPS did not"
    if generator is not None:
        return f"at least {rps:.1f} RPS: the load generator could not offer {generator:.1f} RPS on schedule"
    return f"at least {rps:.1f} RPS: no faster probe showed it fails (not bracketed)"


def knee_curve(
    records: list[ProbeRecord],
    rules: KneeRules,
    bounds_ms: list[float],
    answer: MainAnswer | None = None,
    extra_probes: int | None = None,
) -> KneeCurve:
    """The candidate's curve: its points and its capacity at each bound (ascending; a looser bound never shows less
    than a tighter one). With repeated trials (probes labelled by trial) each bound's capacity is the mean of the
    trials', as the answer is. ``extra_probes``: probes added for the curve (default: counted from the records)."""
    trials = sorted({r.trial for r in records if r.trial is not None})
    if len(trials) > 1:
        per_trial = [_capacities([r for r in records if r.trial == t], rules, bounds_ms, None) for t in trials]
        capacities = _monotone(
            [_trial_mean([caps[i] for caps in per_trial], rules, answer) for i in range(len(bounds_ms))]
        )
    else:
        capacities = _capacities(records, rules, bounds_ms, answer)
    added = sum(1 for r in records if r.knee_bound_ms is not None) if extra_probes is None else extra_probes
    return KneeCurve(
        percentile=rules.sla.percentile, points=knee_points(records), bounds=capacities, extra_probes=added
    )


def _capacities(
    records: list[ProbeRecord], rules: KneeRules, bounds_ms: list[float], answer: MainAnswer | None
) -> list[BoundCapacity]:
    return _monotone([bound_capacity(records, bound, rules, answer) for bound in sorted(bounds_ms)])


def _monotone(capacities: list[BoundCapacity]) -> list[BoundCapacity]:
    """Only the SLA's answer (a closed-loop floor, or the trials' mean) can outrun a looser bound's probes: what
    meets the SLA meets a looser bound too, so that bound shows at least as much."""
    out: list[BoundCapacity] = []
    for capacity in capacities:
        tighter = out[-1] if out else None
        if tighter and tighter.capacity_rps and (capacity.capacity_rps or 0.0) < tighter.capacity_rps:
            capacity = capacity.model_copy(
                update={
                    "capacity_rps": tighter.capacity_rps,
                    "status": "lower_bound",
                    "latency_ms": None,
                    "precise": False,
                    "note": f"at least the {tighter.milliseconds:g} ms bound's {tighter.capacity_rps:.1f} RPS",
                }
            )
        out.append(capacity)
    return out


STRENGTH: dict[str, int] = {"not_measured": 0, "upper_bound": 1, "lower_bound": 2, "measured": 3}


def _trial_mean(trials: list[BoundCapacity], rules: KneeRules, answer: MainAnswer | None) -> BoundCapacity:
    """One bound over the trials: the mean of their capacities when every trial has one, with the weakest status;
    the SLA's bound is the answer (the trials' mean) itself."""
    bound = trials[0].milliseconds
    is_sla = math.isclose(bound, rules.sla.milliseconds)
    met = [t.capacity_rps for t in trials if t.capacity_rps]
    figures = ", ".join(f"{t.capacity_rps:.1f}" if t.capacity_rps else "—" for t in trials)
    failed = [t.failed_rps for t in trials if t.failed_rps]
    weakest = min(trials, key=lambda t: STRENGTH[t.status]).status
    combined = BoundCapacity(
        milliseconds=bound,
        sla=is_sla,
        status=weakest if len(met) == len(trials) or not met else "not_measured",
        capacity_rps=sum(met) / len(met) if met and len(met) == len(trials) else None,
        failed_rps=sum(failed) / len(failed) if len(failed) == len(trials) else None,
        precise=all(t.precise for t in trials),
        generator_limited=any(t.generator_limited for t in trials),
        note=f"mean of {len(trials)} trials ({figures} RPS)"
        if len(met) == len(trials)
        else (f"met in {len(met)} of {len(trials)} trials ({figures} RPS): no mean" if met else trials[0].note),
    )
    if is_sla and answer is not None and answer.rps > 0:
        combined = combined.model_copy(
            update={
                "capacity_rps": answer.rps,
                "status": "lower_bound" if answer.lower_bound else "measured",
                "precise": True,
                "note": f"the search's answer, the mean of {len(trials)} trials ({figures} RPS)",
            }
        )
    return combined


class KneeProbing:
    """Open-loop probes after the search, for the bounds its probes left unbracketed or imprecise, at most
    ``max_probes`` in all and ``MAX_PROBES_PER_BOUND`` per bound, within the time given. Never probes for the SLA's
    own bound (its answer is the search's)."""

    def __init__(
        self,
        rules: KneeRules,
        bounds_ms: list[float],
        max_probes: int,
        *,
        answer: MainAnswer | None = None,
        min_completions: int = 600,
        min_probe_seconds: float = 3.0,
        max_probe_seconds: float = 30.0,
        fail_fast: bool = True,
    ) -> None:
        self.rules, self.bounds, self.max_probes, self.answer = rules, sorted(bounds_ms), max_probes, answer
        self.min_completions = min_completions
        self.min_probe_seconds, self.max_probe_seconds = min_probe_seconds, max_probe_seconds
        self.fail_fast = fail_fast
        self.late_ms = max(1.0, 0.1 * rules.sla.milliseconds)  # the search's own rule for a late send

    def run(
        self,
        probe: RateProbe,
        records: list[ProbeRecord],
        budget_seconds: float,
        clock: Clock = time.monotonic,
        on_probe: ProbeCallback | None = None,
    ) -> list[ProbeRecord]:
        """Probe until every bound is bracketed within precision or none can be, the probes are spent, or the next
        one would not fit; the records added (numbered after ``records``)."""
        session = ProbeSession(clock() + budget_seconds, clock, on_probe)
        session.records = list(records)
        tries: Counter[float] = Counter()
        while sum(tries.values()) < self.max_probes:
            planned = self._next(session.records, tries)
            if planned is None:
                break
            bound, rate = planned
            seconds = self._probe_seconds(rate)
            if not session.fits(seconds + 1):
                break
            self._probe(probe, session, bound, rate, seconds)
            tries[bound] += 1
        return session.records[len(records) :]

    def _next(self, records: list[ProbeRecord], tries: Counter[float]) -> tuple[float, float] | None:
        """The bound to probe next (fewest tries first, then the nearest to the SLA) and its rate."""
        curve = knee_curve(records, self.rules, self.bounds, self.answer)
        sla_ms = self.rules.sla.milliseconds
        open_bounds = [
            c for c in curve.bounds if not c.sla and not c.precise and tries[c.milliseconds] < MAX_PROBES_PER_BOUND
        ]
        open_bounds.sort(key=lambda c: (tries[c.milliseconds], abs(math.log(c.milliseconds / sla_ms))))
        for capacity in open_bounds:
            rate = self.next_rate(capacity, records)
            if rate is not None:
                return capacity.milliseconds, rate
        return None

    def next_rate(self, capacity: BoundCapacity, records: list[ProbeRecord]) -> float | None:
        """Where to probe for ``capacity``'s bound next; None when no probe can tell more."""
        bound, precision = capacity.milliseconds, self.rules.precision
        if capacity.generator_limited or capacity.status == "not_measured":
            return None  # the generator's limit is not the endpoint's; nothing to go on
        if capacity.status == "measured" and capacity.capacity_rps and capacity.failed_rps:
            top = self._failed_at(records, bound, capacity.failed_rps)
            bracket = Bracket(capacity.capacity_rps, capacity.latency_ms, capacity.failed_rps, top, hi_measured=True)
            return bracket.next_rate(bound)
        if capacity.status == "lower_bound" and capacity.capacity_rps:
            return self._above(capacity.capacity_rps, bound, records, precision)
        if capacity.status == "upper_bound" and capacity.failed_rps:
            lowest_useful = max(0.5, precision * max((r.rps for r in records), default=1.0))
            idle = self._idle_latency(records)
            if capacity.failed_rps <= lowest_useful or (idle is not None and idle > bound):
                return None  # nothing lower can meet it: the capacity is below a useful rate
            top = self._failed_at(records, bound, capacity.failed_rps)
            return Bracket(0.0, idle, capacity.failed_rps, top, hi_measured=True).next_rate(bound)
        return None

    def _above(self, floor: float, bound: float, records: list[ProbeRecord], precision: float) -> float:
        """A rate above a floor nothing has failed yet: where a faster probe was no verdict at this bound (the
        search's failures that stopped early), else the closed-loop ceiling plus its margin; at least a couple of
        precision steps up."""
        undecided = [
            offered(r)
            for r in deciding(records)
            if r.valid and judge(r, bound, self.rules) is None and offered(r) > floor * (1 + precision)
        ]
        ceiling = max((r.rps for r in records if r.kind == "closed" and r.valid), default=0.0)
        guess = min(undecided) if undecided else ceiling * CEILING_MARGIN
        return max(guess, floor * (1 + 2 * precision))

    def _failed_at(self, records: list[ProbeRecord], bound: float, rate: float) -> float | None:
        failed = [r for r in deciding(records) if offered(r) == rate and judge(r, bound, self.rules) is False]
        latencies = [_latency(r, self.rules) for r in failed]
        return max((v for v in latencies if v is not None), default=None)

    def _idle_latency(self, records: list[ProbeRecord]) -> float | None:
        one_user = next((r for r in records if r.kind == "closed" and r.users == 1 and r.latency_ms), None)
        return _latency(one_user, self.rules) if one_user else None

    def _probe_seconds(self, rate: float) -> float:
        # No early pass here: every probe runs its planned length, at least the adaptive search's planned floor.
        wanted = self.min_completions / max(rate, 1e-9)
        return min(self.max_probe_seconds, max(PLANNED_MIN_SECONDS, self.min_probe_seconds, wanted))

    def _probe(self, probe: RateProbe, session: ProbeSession, bound: float, rate: float, seconds: float) -> None:
        """One open-loop probe judged (and stopped early) against ``bound``; its ``passed`` stays the SLA's verdict."""
        rules, percentile = self.rules, self.rules.sla.percentile
        check = SlaCheck(percentile, bound, rules.max_error_rate)
        fail_fast = FailFast.for_check(check) if self.fail_fast else None
        m = probe.measure_rate(rate, seconds, WINDOWS, self.late_ms, fail_fast=fail_fast)
        valid, invalid_why = generator_ok(m)
        kept_up = m.rps >= KEEP_UP_RATIO * rate
        met_sla, _ = SlaCheck.for_sla(rules.sla, rules.max_error_rate).verdict(m)
        met, why = check.verdict(m)
        why = why.replace(f"{bound:g} ms SLA", f"{bound:g} ms bound")
        if met and not kept_up:
            met, why = False, f"completed {m.rps:.1f} of {rate:.1f} RPS offered: falling behind"
        stopped = " (stopped early: the failure was certain)" if m.stopped_early else ""
        note = f"knee probe for {percentile} ≤ {bound:g} ms: {invalid_why or ('met it' if met else why)}{stopped}"
        passed = met_sla and kept_up and valid and not m.stopped_early
        session.record(m, passed, note, kind="open", valid=valid, knee_bound_ms=bound)
