"""How a job's ``max_seconds`` is split between the search, the hard deadline and writing results."""

from __future__ import annotations

from dataclasses import dataclass

from rightsizing.models.knee import knee_bounds
from rightsizing.models.plan import LoadTestJob


@dataclass(frozen=True)
class Timing:
    search_budget: float
    hard_deadline: float
    request_timeout: float
    settle_seconds: float
    drain_seconds: float
    open_settle_seconds: float = 0.5

    @classmethod
    def for_job(cls, job: LoadTestJob, elapsed: float) -> Timing:
        reserve = min(10.0, max(2.0, 0.1 * job.max_seconds))  # artefact upload + report after the search
        budget = max(0.0, job.max_seconds - elapsed - reserve)
        sla_seconds = job.sla.milliseconds / 1000
        # Knee probes judge looser bounds: a request must not time out before the loosest one.
        loosest_seconds = max(knee_bounds(job.sla, job.knee, job.max_seconds)) / 1000 if job.knee else sla_seconds
        return cls(
            search_budget=budget,
            # The search plans within its budget; this interrupts it if a step overruns (e.g. a slow ramp).
            hard_deadline=budget + reserve / 2,
            # Far past the SLA a request is a failure anyway; a bounded timeout keeps a hung endpoint from
            # pinning users beyond the test.
            request_timeout=min(60.0, max(2.0, 10 * sla_seconds, 2 * loosest_seconds)),
            # Long enough for new users' first requests to finish and queues to form before measuring.
            settle_seconds=min(5.0, max(0.5, job.load.step_seconds / 4, 2 * sla_seconds)),
            # After an open-loop probe, in-flight requests get this long; later ones have failed the SLA anyway.
            drain_seconds=min(5.0, max(1.0, 5 * sla_seconds)),
            # Open loop spawns no users: its first requests only need to finish (and their connections open)
            # before measuring; a probe that passes early is mostly settle otherwise.
            open_settle_seconds=min(5.0, max(0.2, 2 * sla_seconds)),
        )
