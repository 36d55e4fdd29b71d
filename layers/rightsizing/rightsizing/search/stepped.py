"""Stepped search: closed-loop user counts 1, 2, 4, 8, … until the SLA breaks or throughput stops growing.

Simple and predictable, but coarse: the answer is the best passing *step*, so it can under-report the true
SLA-bound rate by up to one doubling. The adaptive (open-loop, bracketing) search replaces it behind the same
``SearchStrategy`` seam.
"""

from __future__ import annotations

from rightsizing.models.targets import LatencySla
from rightsizing.search.base import LoadProbe, SearchOutcome, SlaCheck
from rightsizing.search.session import ProbeSession, SearchStrategy

# Below this relative gain over the best throughput so far, more users only add queueing (Little's law).
MIN_THROUGHPUT_GAIN = 0.05


def _users_label(users: int) -> str:
    return f"{users} user" if users == 1 else f"{users} users"


class SteppedSearch(SearchStrategy[LoadProbe]):
    def __init__(
        self,
        sla: LatencySla,
        max_error_rate: float,
        step_seconds: float,
        max_users: int,
    ) -> None:
        if step_seconds <= 0 or max_users < 1:
            raise ValueError("step_seconds must be positive and max_users at least 1")
        self.check = SlaCheck.for_sla(sla, max_error_rate)
        self.step_seconds = step_seconds
        self.max_users = max_users

    def search(self, probe: LoadProbe, session: ProbeSession) -> SearchOutcome:
        return session.outcome(self._steps(probe, session))

    def _steps(self, probe: LoadProbe, session: ProbeSession) -> str:
        """Probe 1, 2, 4, … users; the stop reason."""
        users = 1
        # Cost of the next step: the last probe's wall time (settle + window + ramp), or the bare window at first.
        step_cost = self.step_seconds
        best_rps = 0.0
        while True:
            no_time = session.out_of_time("step", _users_label(users), step_cost)
            if no_time:
                return no_time
            probe_started = session.clock()
            measurement = probe.measure(users, self.step_seconds)
            step_cost = max(self.step_seconds, session.clock() - probe_started)
            passed, why = self.check.verdict(measurement)
            record = session.record(measurement, passed, why)
            if not passed:
                return f"Stopped at {_users_label(users)}: {why}."
            if record.index > 0 and record.rps < best_rps * (1 + MIN_THROUGHPUT_GAIN):
                return (
                    f"Throughput saturated: {_users_label(users)} gave {record.rps:.1f} rps, less than "
                    f"{MIN_THROUGHPUT_GAIN:.0%} above the best so far ({best_rps:.1f} rps); more users would only "
                    "add queueing."
                )
            best_rps = max(best_rps, record.rps)
            if users >= self.max_users:
                return f"Reached max_users ({self.max_users}) with the SLA met and throughput still growing."
            users = min(users * 2, self.max_users)
