"""How many CPUs the load-test task may use: the number of worker processes ``max_workers: "auto"`` allows.

Locust-free (unit-tested in-process). ``os.cpu_count()`` would report the host's CPUs, not the container's share.
"""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_V2_MAX = Path("/sys/fs/cgroup/cpu.max")  # "max 100000" (no quota) or "200000 100000" (2 CPUs)
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")  # -1: no quota
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def cgroup_cpus(
    v2_max: Path = CGROUP_V2_MAX, v1_quota: Path = CGROUP_V1_QUOTA, v1_period: Path = CGROUP_V1_PERIOD
) -> float | None:
    """The CPU quota in CPUs (e.g. ``docker --cpus``, a task-level limit), or None without one."""
    try:
        quota, period = v2_max.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(v1_quota.read_text())
        return None if quota_us <= 0 else quota_us / int(v1_period.read_text())
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs in this process's affinity mask, capped by the cgroup quota (rounded, at least 1)."""
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, max(1, round(quota)))
    return max(1, cpus)
