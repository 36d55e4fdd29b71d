"""``max_workers: "auto"``: CPUs from the cgroup quota when there is one, else the affinity mask."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightsizing_loadtest import cpus
from rightsizing_loadtest.cpus import cgroup_cpus


def _files(tmp_path: Path, v2: str | None = None, v1: tuple[str, str] | None = None) -> dict[str, Path]:
    paths = {"v2_max": tmp_path / "cpu.max", "v1_quota": tmp_path / "quota", "v1_period": tmp_path / "period"}
    if v2 is not None:
        paths["v2_max"].write_text(v2)
    if v1 is not None:
        paths["v1_quota"].write_text(v1[0])
        paths["v1_period"].write_text(v1[1])
    return paths


def test_cgroup_v2_quota_in_cpus(tmp_path: Path) -> None:
    assert cgroup_cpus(**_files(tmp_path, v2="200000 100000\n")) == 2.0
    assert cgroup_cpus(**_files(tmp_path, v2="max 100000\n")) is None


def test_cgroup_v1_quota_in_cpus(tmp_path: Path) -> None:
    assert cgroup_cpus(**_files(tmp_path, v1=("400000", "100000"))) == 4.0
    assert cgroup_cpus(**_files(tmp_path, v1=("-1", "100000"))) is None


def test_no_cgroup_files_means_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpus(**_files(tmp_path)) is None


@pytest.mark.parametrize(
    ("mask", "quota", "expected"),
    [
        (4, None, 4),  # no quota: every CPU of the affinity mask
        (8, 2.0, 2),  # a 2-CPU container on an 8-CPU host: not os.cpu_count()
        (2, 4.0, 2),  # a quota above the mask adds no CPU
        (8, 2.6, 3),  # rounded to the nearest CPU
        (8, 0.25, 1),  # a quarter CPU still runs one worker
    ],
)
def test_available_cpus_is_the_affinity_mask_capped_by_the_quota(
    monkeypatch: pytest.MonkeyPatch, mask: int, quota: float | None, expected: int
) -> None:
    monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda pid: set(range(mask)))
    monkeypatch.setattr(cpus, "cgroup_cpus", lambda: quota)
    assert cpus.available_cpus() == expected
