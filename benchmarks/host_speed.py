"""How fast this machine runs the model server's own code right now: requests per second through the app's
``/invocations`` handler (Flask's test client: parsing, predict, serialising; no sockets, no gunicorn), on one
pinned CPU, for a few seconds.

capacity_accuracy (c) calls it before each measurement: a shared VM's CPU speed drifts over minutes, and a truth
and an answer measured at different speeds are not comparable. Prints one JSON line: {"rps": ..., "cpu": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", type=int, required=True, help="CPU to pin to (the server's)")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})

    from rightsizing_local.model_server import create_app, ensure_builtin_model, sample_rows

    client = create_app(str(ensure_builtin_model())).test_client()
    bodies = [",".join(f"{v:.4f}" for v in row) for row in sample_rows(8)]
    for body in bodies:  # warm: first calls pay for imports and caches
        client.post("/invocations", data=body, content_type="text/csv")
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < args.seconds:
        response = client.post("/invocations", data=bodies[count % len(bodies)], content_type="text/csv")
        if response.status_code != 200:
            raise SystemExit(f"/invocations answered {response.status_code}")
        count += 1
    print(json.dumps({"rps": round(count / elapsed, 1), "cpu": args.cpu}))


if __name__ == "__main__":
    main()
