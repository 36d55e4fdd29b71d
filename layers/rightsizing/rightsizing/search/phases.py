"""Phases search: Inference Recommender-style traffic phases (``TrafficType: PHASES``) with its stopping conditions.

Within a phase, closed-loop users start at ``initial_users`` and grow by ``spawn_rate_per_minute``. The growth is
approximated by equal measured slices of about ``step_seconds`` (never shorter, unless the phase is): each slice runs
``round(initial_users + rate * t / 60)`` users, ``t`` being the slice's start within the phase, capped at
``max_users``. ``t`` counts measured seconds only, so a probe's settle time stretches the wall clock, not the phase.

The test stops at the first slice that breaks the latency threshold (the SLA unless ``stop.latency_ms`` says
otherwise) or the error limit, or whose completions per minute reach ``max_invocations_per_minute``, when the phases
end, or before a slice that would not fit in the time budget. The answer is the best slice that met the SLA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rightsizing.models.load import Phase
from rightsizing.models.targets import LatencySla
from rightsizing.search.base import LoadProbe, ProbeMeasurement, SearchOutcome, SlaCheck
from rightsizing.search.session import ProbeSession, SearchStrategy


@dataclass(frozen=True)
class Slice:
    """One measured piece of a phase: ``users`` for ``seconds``, starting ``offset`` seconds into phase ``phase``."""

    phase: int  # 1-based, as people count phases
    users: int
    offset: float
    seconds: float

    def label(self, phases: int) -> str:
        users = "1 user" if self.users == 1 else f"{self.users} users"
        return f"phase {self.phase} of {phases} at {round(self.offset, 1):g} s ({users})"


def phase_slices(phases: Sequence[Phase], step_seconds: float, max_users: int) -> list[Slice]:
    """The whole traffic pattern as measured slices, in order."""
    slices = []
    for number, phase in enumerate(phases, start=1):
        # Floor, so slices are at least step_seconds long (short windows make noisy percentiles).
        count = max(1, math.floor(phase.duration_seconds / step_seconds))
        length = phase.duration_seconds / count
        for index in range(count):
            offset = index * length
            # Half up (not Python's banker's rounding): 1.5 users means the second user has just arrived.
            grown = math.floor(phase.initial_users + phase.spawn_rate_per_minute * offset / 60 + 0.5)
            slices.append(Slice(number, min(grown, max_users), round(offset, 6), length))
    return slices


class PhasesSearch(SearchStrategy[LoadProbe]):
    def __init__(
        self,
        sla: LatencySla,
        max_error_rate: float,
        phases: Sequence[Phase],
        step_seconds: float,
        max_users: int,
        max_invocations_per_minute: int | None = None,
        latency_threshold_ms: float | None = None,
    ) -> None:
        if not phases:
            raise ValueError("mode 'phases' needs at least one phase")
        if step_seconds <= 0 or max_users < 1:
            raise ValueError("step_seconds must be positive and max_users at least 1")
        self.check = SlaCheck.for_sla(sla, max_error_rate)
        # Errors and silence stop the test whatever the latency threshold; an infinite bound checks only those.
        self.error_check = SlaCheck(sla.percentile, math.inf, max_error_rate)
        self.latency_threshold_ms = sla.milliseconds if latency_threshold_ms is None else latency_threshold_ms
        self.max_invocations_per_minute = max_invocations_per_minute
        self.phase_count = len(phases)
        self.slices = phase_slices(phases, step_seconds, max_users)

    def search(self, probe: LoadProbe, session: ProbeSession) -> SearchOutcome:
        return session.outcome(self._slices(probe, session))

    def _slices(self, probe: LoadProbe, session: ProbeSession) -> str:
        """Measure the slices in order; the stop reason."""
        # Wall time a probe costs beyond its window, learnt from the last one of its kind (0 before any): a phase's
        # first slice settles, the others run back to back, so one estimate would under-state the first kind.
        overhead = {True: 0.0, False: 0.0}
        for planned in self.slices:
            settle = planned.offset == 0
            where = planned.label(self.phase_count)
            no_time = session.out_of_time("slice", where, planned.seconds + max(overhead[settle], overhead[False]))
            if no_time:
                return no_time
            probe_started = session.clock()
            # Settle only where a phase starts (its users jump); within a phase users grow continuously, as in IR.
            measurement = probe.measure(planned.users, planned.seconds, settle=settle)
            overhead[settle] = max(0.0, session.clock() - probe_started - planned.seconds)
            passed, why = self.check.verdict(measurement)
            session.record(measurement, passed, f"{where}: {why}" if why else where)
            reason = self._stop_reason(planned, measurement, passed, why)
            if reason:
                return reason
        users = max(s.users for s in self.slices)
        seconds = round(sum(s.seconds for s in self.slices), 1)
        phases = f"{self.phase_count} phases" if self.phase_count > 1 else "1 phase"
        return (
            f"All {phases} completed ({seconds:g} s of traffic, up to {users} users) without reaching a stopping "
            "condition."
        )

    def _stop_reason(self, planned: Slice, measurement: ProbeMeasurement, passed: bool, why: str) -> str:
        """Which stopping condition this slice met, in plain words ('' for none)."""
        where = planned.label(self.phase_count)
        fine, error_why = self.error_check.verdict(measurement)
        if not fine:
            return f"Stopped in {where}: {error_why}."
        percentile = self.check.percentile
        observed = measurement.latencies.at(percentile) if measurement.latencies else math.inf
        if observed > self.latency_threshold_ms:
            bound = (
                "SLA" if self.latency_threshold_ms == self.check.sla_ms else "latency threshold (load.stop.latency_ms)"
            )
            return (
                f"Stopped in {where}: {percentile} latency {observed:.1f} ms exceeded the "
                f"{self.latency_threshold_ms:g} ms {bound}."
            )
        per_minute = measurement.rps * 60
        if self.max_invocations_per_minute is not None and per_minute >= self.max_invocations_per_minute:
            judged = "within the SLA" if passed else f"but not within the SLA ({why})"
            return (
                f"Reached max_invocations_per_minute ({self.max_invocations_per_minute:,}): {where} completed "
                f"{per_minute:,.0f} requests per minute ({measurement.rps:.1f} rps), {judged}."
            )
        return ""
