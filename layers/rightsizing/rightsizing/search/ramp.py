"""The classic baseline, kept to compare against: users ramped linearly (5 users/s, think time 0.25-0.5 s) until
Locust's *cumulative* failure ratio reaches 1 %; the answer is the throughput of the last 10 s.

Known flaws, which is why it is only a baseline: the cumulative ratio lags the current one, so it stops well past
the knee; think time makes it measure offered load; it ignores the latency SLA entirely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rightsizing.models.targets import LatencySla
from rightsizing.search.base import ProbeMeasurement, SearchOutcome, SlaCheck
from rightsizing.search.session import ProbeSession, SearchStrategy

SPAWN_RATE = 5.0  # users per second
THINK_SECONDS = (0.25, 0.5)
STOP_FAILURE_RATIO = 0.01
ANSWER_WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class RampMeasurement:
    last_window: ProbeMeasurement  # the final ANSWER_WINDOW_SECONDS
    users: int
    seconds: float
    stop_reason: str


class RampProbe(Protocol):
    def ramp(
        self, spawn_rate: float, max_users: int, stop_failure_ratio: float, budget_seconds: float, window: float
    ) -> RampMeasurement: ...


class RampSearch(SearchStrategy[RampProbe]):
    def __init__(self, sla: LatencySla, max_error_rate: float, max_users: int) -> None:
        self.check = SlaCheck.for_sla(sla, max_error_rate)
        self.max_users = max_users

    def search(self, probe: RampProbe, session: ProbeSession) -> SearchOutcome:
        measured = probe.ramp(
            SPAWN_RATE, self.max_users, STOP_FAILURE_RATIO, session.remaining(), ANSWER_WINDOW_SECONDS
        )
        within, why = self.check.verdict(measured.last_window)
        note = "classic ramp answer (ignores the SLA)" + ("" if within else f"; at that load {why}")
        # The classic method reports its last window as the answer whatever the latency: keep it comparable.
        session.record(measured.last_window, True, note, kind="ramp")
        return session.outcome(f"Classic ramp: {measured.stop_reason} after {measured.seconds:.0f} s.")
