"""A plain open-loop sweep: fixed rates on a grid, long windows, no search logic. Truth for servers we cannot model.

Run as its own process (Locust patches its process with gevent); prints one JSON line per rate, then a summary:
  python benchmarks/rate_sweep.py URL --sla-ms 50 --rates 60,70,80,90,100 --seconds 20 [--payload=BODY ...]

The truth is the highest rate that passes (p95 within the SLA, errors <= 1 %, completions >= 95 % of offered) such
that every lower rate on the grid passed too — a spike at one rate is visible in the output, not hidden by a bracket.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rightsizing.models.common import LatencyPercentiles
from rightsizing_loadtest.driver import LocustProbe
from rightsizing_loadtest.endpoint import Target, user_class_for
from rightsizing_loadtest.generator import open_loop_factory

WINDOWS = 3
MAX_ERROR_RATE = 0.01
KEEP_UP = 0.95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--sla-ms", type=float, required=True)
    parser.add_argument("--rates", required=True, help="comma-separated rates, ascending")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--payload", action="append", default=[])
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--workdir", default="/tmp/rate-sweep")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    target = Target(args.url, "sweep", "us-east-1")
    payloads = args.payload or ["1,2,3,4"]
    probe = LocustProbe(
        user_class_for(target, payloads, "text/csv", timeout_seconds=10),
        args.url,
        Path(args.workdir),
        settle_seconds=2.0,
        open_loop=open_loop_factory(target, payloads, "text/csv", 10),  # the pacer exactly as the task builds it
        drain_seconds=5.0,
    )
    results = []
    try:
        for rate in (float(r) for r in args.rates.split(",")):
            m = probe.measure_rate(rate, args.seconds, WINDOWS, late_ms=0.1 * args.sla_ms)
            p95 = m.latencies.p95 if isinstance(m.latencies, LatencyPercentiles) else None
            passed = (p95 is not None and p95 <= args.sla_ms and m.error_rate <= MAX_ERROR_RATE
                      and m.rps >= KEEP_UP * rate)
            cpu = m.generator_cpu_percent
            row = {"rate": rate, "rps": round(m.rps, 2), "p95_ms": p95 and round(p95, 1), "passed": passed,
                   "late_share": m.late_share, "generator_cpu": cpu and round(cpu)}
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        probe.close()
    truth = 0.0
    for row in results:
        if not row["passed"]:
            break
        truth = row["rate"]
    print(json.dumps({"truth": truth, "first_failure": next((r["rate"] for r in results if not r["passed"]), None)}))


if __name__ == "__main__":
    main()
