"""How fast this machine runs the model server's own code right now: requests per second through the app's
``/invocations`` handler (Flask's test client: parsing, predict, serialising; no sockets, no gunicorn), on one
pinned CPU, for a few seconds.

It measures the host, not a server: on the shared 2-vCPU development VM the same loop reads from ~110 to ~220
requests/s in 2-second slices a few seconds apart, with no steal time reported in /proc/stat. capacity_accuracy (c)
runs it before the model case and prints the spread, since no benchmark can be steadier than its host.

Prints one JSON line: {"cpu", "slice_seconds", "rps": [per slice], "median", "min", "max", "slow_share"}
(slow_share: the share of slices below 80 % of the median).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", type=int, required=True, help="CPU to pin to (the server's)")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one slice")
    parser.add_argument("--slices", type=int, default=20)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})

    from rightsizing_local.model_server import create_app, ensure_builtin_model, sample_rows

    client = create_app(str(ensure_builtin_model())).test_client()
    bodies = [",".join(f"{v:.4f}" for v in row) for row in sample_rows(8)]
    for body in bodies:  # warm: first calls pay for imports and caches
        client.post("/invocations", data=body, content_type="text/csv")
    rates: list[float] = []
    for _ in range(args.slices):
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < args.seconds:
            response = client.post("/invocations", data=bodies[count % len(bodies)], content_type="text/csv")
            if response.status_code != 200:
                raise SystemExit(f"/invocations answered {response.status_code}")
            count += 1
        rates.append(round(count / elapsed, 1))
    median = statistics.median(rates)
    print(
        json.dumps(
            {
                "cpu": args.cpu,
                "slice_seconds": args.seconds,
                "rps": rates,
                "median": median,
                "min": min(rates),
                "max": max(rates),
                "slow_share": round(sum(r < 0.8 * median for r in rates) / len(rates), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
