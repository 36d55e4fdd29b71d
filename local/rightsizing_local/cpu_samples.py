"""CPU use of a local endpoint's processes, sampled while it is in service: the local stand-in for CloudWatch's
``/aws/sagemaker/Endpoints`` CPUUtilization (per core, summed: 200 % is two busy cores)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import psutil

CPU_SAMPLE_SECONDS = 0.5

Sample = tuple[float, float]  # (epoch, cumulative CPU seconds of the server's processes)


def sample_cpu(pid: int, samples: list[Sample], keep_going: Callable[[], bool]) -> None:
    """Append a sample every CPU_SAMPLE_SECONDS until ``keep_going()`` is false or the process is gone."""
    try:
        root = psutil.Process(pid)
        while keep_going():
            processes = [root, *root.children(recursive=True)]
            cpu = sum(p.cpu_times().user + p.cpu_times().system for p in processes if p.is_running())
            samples.append((time.time(), cpu))
            time.sleep(CPU_SAMPLE_SECONDS)
    except psutil.Error:
        return  # the server went away: sampling simply ends


def start_sampling(pid: int, samples: list[Sample], keep_going: Callable[[], bool]) -> None:
    threading.Thread(target=sample_cpu, args=(pid, samples, keep_going), daemon=True).start()


def utilisation(samples: list[Sample], start_epoch: float, end_epoch: float) -> dict[str, float]:
    """Mean and peak CPU over the window, in % of one core summed (like AWS)."""
    window = [s for s in samples if start_epoch <= s[0] <= end_epoch]
    if len(window) < 2:
        return {}
    rates = [(b[1] - a[1]) / (b[0] - a[0]) * 100 for a, b in itertools.pairwise(window) if b[0] > a[0]]
    total = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0]) * 100
    return {"CPUUtilization": round(total, 1), "CPUUtilizationMax": round(max(rates), 1)}
