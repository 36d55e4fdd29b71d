"""benchmarks/noisy_neighbour.py: slow spells on demand, bounded in time (it must stop by itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "noisy_neighbour.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30)


def test_it_bursts_on_the_given_cpu_and_stops_by_itself() -> None:
    cpu = min(os.sched_getaffinity(0))
    started = time.monotonic()
    done = _run("--cpu", str(cpu), "--burst-ms", "20", "--every-s", "0.05", "--max-seconds", "1")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["cpu"] == cpu and report["burst_ms"] == 20
    assert report["bursts"] >= 5  # ~1 s / (50 ms gaps + 20 ms bursts), far fewer only if it never ran
    assert elapsed < 10  # bounded: it exits once --max-seconds is up (a burst may overrun by its own length)


def test_bursts_longer_than_their_gaps_are_refused() -> None:
    done = _run("--cpu", "0", "--burst-ms", "500", "--every-s", "0.1", "--max-seconds", "1")
    assert done.returncode == 2
    assert "every-s longer than one burst" in done.stderr
