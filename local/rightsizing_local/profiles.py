"""Local "instance types": declared server profiles on this machine, with notional prices.

They are labelled ``local.*`` everywhere so a local figure is never mistaken for an AWS one. Their prices are
notional (roughly proportional to the CPU they may use) and exist only so the recommender has something to weigh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

NOTIONAL_PRICE_LABEL = "notional local price (not an AWS price)"


@dataclass(frozen=True)
class LocalProfile:
    name: str
    workers: int
    cpus: tuple[int, ...]
    usd_per_hour: float
    description: str
    environment: dict[str, str] = field(default_factory=dict)

    def usable_cpus(self) -> list[int]:
        """Pinned CPUs that exist on this machine (a 1-core machine still runs every profile)."""
        available = os.sched_getaffinity(0)
        pinned = [c for c in self.cpus if c in available]
        return pinned or sorted(available)[:1]


PROFILES: dict[str, LocalProfile] = {
    p.name: p
    for p in (
        LocalProfile("local.small", workers=1, cpus=(0,), usd_per_hour=0.05, description="1 model worker on CPU 0"),
        LocalProfile("local.medium", workers=2, cpus=(0, 1), usd_per_hour=0.10, description="2 workers on CPUs 0-1"),
        LocalProfile("local.large", workers=4, cpus=(0, 1), usd_per_hour=0.20, description="4 workers on CPUs 0-1"),
    )
}


@dataclass(frozen=True)
class LocalServerlessProfile:
    """A local stand-in for one serverless memory size: as on SageMaker, more memory brings more CPU. The server
    takes requests on ``threads`` per worker so it can refuse those beyond MaxConcurrency (429), and emulates a cold
    start of ``cold_start_seconds`` on the first request and after ``idle_seconds`` without one."""

    memory_mb: int
    workers: int
    cpus: tuple[int, ...]
    usd_per_gb_second: float
    description: str
    cold_start_seconds: float = 0.5
    idle_seconds: float = 60.0
    threads: int = 16

    @property
    def name(self) -> str:
        return f"local.serverless-{self.memory_mb // 1024}gb"

    def usable_cpus(self) -> list[int]:
        available = os.sched_getaffinity(0)
        pinned = [c for c in self.cpus if c in available]
        return pinned or sorted(available)[:1]


# Notional: AWS's per GB-second compute price of serverless inference (us-east-1), so local comparisons between
# the two kinds have the same shape as on AWS; still not an AWS price of anything run here.
SERVERLESS_PROFILES: dict[int, LocalServerlessProfile] = {
    p.memory_mb: p
    for p in (
        LocalServerlessProfile(1024, workers=1, cpus=(0,), usd_per_gb_second=2e-5, description="1 worker, CPU 0"),
        LocalServerlessProfile(2048, workers=2, cpus=(0, 1), usd_per_gb_second=2e-5, description="2 workers, CPU 0-1"),
    )
}
