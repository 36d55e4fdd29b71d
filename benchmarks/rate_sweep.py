"""A plain open-loop sweep: fixed rates on a grid, long probes, no search logic. Truth for servers we cannot model.

Run as its own process (Locust patches its process with gevent); prints one JSON line per rate, then a summary:
  python benchmarks/rate_sweep.py URL --sla-ms 50 --rates 70,75,80,85,90,95,100 --seconds 30 [--payload=BODY ...]
  python benchmarks/rate_sweep.py URL --sla-ms 50 --grid 60:120:5 ...            (from:to:step, inclusive)

The summary's ``truth`` is where the isotonic (non-decreasing) fit of p95 vs rate crosses the SLA (sweep_truth.py):
robust to one unlucky window at the knee. ``strict`` is the naive reading (highest rate with every lower rate
passing), printed for comparison. The sweep stops after two consecutive rates far over the SLA. With
``--extend-down N``, a grid whose first rate already fails is extended below it, one step at a time, until a rate
passes (at most N more rates): a grid placed too high still finds its crossing.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from sweep_truth import sla_crossing, strict_boundary

from rightsizing.models.common import LatencyPercentiles
from rightsizing_loadtest.driver import LocustProbe
from rightsizing_loadtest.endpoint import Target
from rightsizing_loadtest.generator import open_loop_factory
from rightsizing_loadtest.users import user_class_for

MAX_ERROR_RATE = 0.01
KEEP_UP = 0.95
FAR_OVER = 2.0  # p95 above this many SLAs (or overloaded) twice in a row: higher rates only fail harder
MAX_CLEAR_FAILURES = 2


def grid(spec: str) -> list[float]:
    start, stop, step = (float(v) for v in spec.split(":"))
    if step <= 0 or stop < start:
        raise argparse.ArgumentTypeError(f"--grid {spec!r}: want from:to:step with to >= from and step > 0")
    count = round((stop - start) / step) + 1
    return [round(start + i * step, 6) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--sla-ms", type=float, required=True)
    rates = parser.add_mutually_exclusive_group(required=True)
    rates.add_argument("--rates", help="comma-separated rates, ascending")
    rates.add_argument("--grid", type=grid, help="from:to:step, inclusive")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per rate")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--payload", action="append", default=[])
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--workdir", default="/tmp/rate-sweep")
    parser.add_argument("--extend-down", type=int, default=0, help="rates to add below a failing first rate")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    rate_list = args.grid or [float(r) for r in args.rates.split(",")]
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
    results: list[dict] = []

    def measure(rate: float) -> dict:
        m = probe.measure_rate(rate, args.seconds, args.windows, late_ms=0.1 * args.sla_ms)
        p95 = m.latencies.p95 if isinstance(m.latencies, LatencyPercentiles) else None
        overloaded = m.error_rate > MAX_ERROR_RATE or m.rps < KEEP_UP * rate
        passed = p95 is not None and p95 <= args.sla_ms and not overloaded
        cpu = m.generator_cpu_percent
        row = {
            "rate": rate,
            "rps": round(m.rps, 2),
            "p95_ms": p95 and round(p95, 1),
            "passed": passed,
            "overloaded": overloaded,
            "late_share": m.late_share,
            "generator_cpu": cpu and round(cpu),
            "window_p95_ms": [w and round(w.p95, 1) for w in m.window_latencies],
            "far_over": overloaded or p95 is None or p95 > FAR_OVER * args.sla_ms,
        }
        results.append(row)
        print(json.dumps(row), flush=True)
        return row

    step = rate_list[1] - rate_list[0] if len(rate_list) > 1 else rate_list[0] / 10
    try:
        row = measure(rate_list[0])
        lowest, added = rate_list[0], 0
        while not row["passed"] and added < args.extend_down and lowest - step > 0:
            lowest, added = round(lowest - step, 6), added + 1
            row = measure(lowest)
        clear_failures = 1 if results[0]["far_over"] else 0
        for rate in rate_list[1:]:
            if clear_failures >= MAX_CLEAR_FAILURES:
                break
            clear_failures = clear_failures + 1 if measure(rate)["far_over"] else 0
    finally:
        probe.close()
    results.sort(key=lambda r: r["rate"])
    swept = [r["rate"] for r in results]
    p95s = [None if r["overloaded"] else r["p95_ms"] for r in results]
    truth = sla_crossing(swept, p95s, args.sla_ms) if results else None
    print(
        json.dumps(
            {
                "truth": truth and round(truth, 2),
                "strict": strict_boundary(swept, [r["passed"] for r in results]),
                "first_failure": next((r["rate"] for r in results if not r["passed"]), None),
                "late": any((r["late_share"] or 0) > 0.01 for r in results),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
