"""The cold start of a serverless endpoint, measured before the search and kept out of it.

The first request after a serverless endpoint is deployed waits for its compute to be provisioned; so does the first
after the endpoint has scaled to zero. Its latency says what a caller waits after a quiet period, not what the
endpoint sustains, so it is measured alone (one request, then a few warm ones, one at a time) and reported beside
the capacity, never inside the SLA verdict.
"""

from __future__ import annotations

import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from rightsizing.models.serverless import ColdStart
from rightsizing_loadtest.endpoint import Invocations

WARM_SAMPLES = 3
# Loopback targets must not go through an http_proxy from the environment.
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def send_one(invocations: Invocations, index: int, timeout: float) -> tuple[int | None, float]:
    """(HTTP status or None when nothing answered, seconds) of one invocation of body ``index``."""
    request = urllib.request.Request(
        invocations.base_url + invocations.path,
        data=invocations.bodies[index],
        headers=invocations.headers_for_index(index),
        method="POST",
    )
    opener = _no_proxy if not invocations.signed else urllib.request.build_opener()
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            status: int | None = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, OSError):
        status = None
    return status, time.perf_counter() - started


def measure_cold_start(invocations: Invocations, timeout: float, warm_samples: int = WARM_SAMPLES) -> ColdStart:
    """One request right after deployment, then ``warm_samples`` more one after another."""
    status, first = send_one(invocations, 0, timeout)
    warm: Sequence[float] = [
        seconds
        for code, seconds in (send_one(invocations, 0, timeout) for _ in range(warm_samples))
        if code is not None and 200 <= code < 300
    ]
    warm_ms = statistics.median(warm) * 1000 if warm else None
    first_ms = first * 1000
    note = "" if status is not None and 200 <= status < 300 else f"the first request failed (status {status})"
    return ColdStart(
        first_ms=round(first_ms, 3),
        warm_ms=round(warm_ms, 3) if warm_ms is not None else None,
        penalty_ms=round(first_ms - warm_ms, 3) if warm_ms is not None else None,
        warm_samples=len(warm),
        first_status=status,
        note=note,
    )
