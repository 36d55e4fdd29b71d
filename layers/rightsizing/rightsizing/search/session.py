"""What every search does around its probes, written once: the time budget, the numbered records, the outcome.

A strategy decides which load to offer next and when to stop; ``ProbeSession`` keeps the books (is there time for
the next probe, number and report each record as it is made, summarize at the end) and ``SearchStrategy.run`` opens
one session per search, so no strategy keeps its own copy of that bookkeeping.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Generic, TypeVar, Unpack

from rightsizing.models.result import ProbeRecord
from rightsizing.search.base import (
    Clock,
    ProbeCallback,
    ProbeLabels,
    ProbeMeasurement,
    SearchOutcome,
    summarize,
    to_record,
)


class ProbeSession:
    """One search's books: a deadline read on ``clock``, and the records so far, each reported to ``on_probe``."""

    def __init__(self, deadline: float, clock: Clock, on_probe: ProbeCallback | None = None) -> None:
        self.deadline, self.clock, self.on_probe = deadline, clock, on_probe
        self.records: list[ProbeRecord] = []

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once past it)."""
        return self.deadline - self.clock()

    def fits(self, seconds: float) -> bool:
        """Whether something lasting ``seconds`` from now ends by the deadline."""
        return self.clock() + seconds <= self.deadline

    def out_of_time(self, probe: str, label: str, seconds: float) -> str:
        """The stop reason when the next ``probe`` (``label``, about ``seconds`` long) would not fit; '' if it fits."""
        if self.fits(seconds):
            return ""
        return (
            f"Time budget exhausted: the next {probe} ({label}, ~{seconds:.1f} s) would not fit in the remaining "
            f"{max(self.remaining(), 0.0):.1f} s."
        )

    def record(
        self, measurement: ProbeMeasurement, passed: bool, note: str = "", **labels: Unpack[ProbeLabels]
    ) -> ProbeRecord:
        """Add the probe's record, numbered by its position, and report it at once (progress, partial results)."""
        record = to_record(len(self.records), measurement, passed, note, **labels)
        self.records.append(record)
        if self.on_probe is not None:
            self.on_probe(record)
        return record

    def outcome(
        self,
        stop_reason: str,
        answer_kinds: frozenset[str] | None = None,
        *,
        generator_limited: bool | None = None,
        lower_bound: bool | None = None,
        fallback: ProbeRecord | None = None,
    ) -> SearchOutcome:
        return summarize(
            self.records,
            stop_reason,
            answer_kinds,
            generator_limited=generator_limited,
            lower_bound=lower_bound,
            fallback=fallback,
        )


ProbeT_contra = TypeVar("ProbeT_contra", contravariant=True)


class SearchStrategy(ABC, Generic[ProbeT_contra]):
    """A search that drives probes of kind ``ProbeT_contra`` (closed loop, open loop, or a classic ramp)."""

    def run(
        self,
        probe: ProbeT_contra,
        budget_seconds: float,
        clock: Clock = time.monotonic,
        on_probe: ProbeCallback | None = None,
    ) -> SearchOutcome:
        """Probe until the strategy's stop rule fires or ``budget_seconds`` (by ``clock``) would be exceeded.

        ``on_probe`` sees each record as soon as it exists (progress output, and partial results if a hard
        deadline interrupts the search).
        """
        return self.search(probe, ProbeSession(clock() + budget_seconds, clock, on_probe))

    @abstractmethod
    def search(self, probe: ProbeT_contra, session: ProbeSession) -> SearchOutcome:
        """The strategy itself: probe through ``session`` and end with ``session.outcome(stop reason)``."""
