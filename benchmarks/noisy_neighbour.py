"""A reproducible noisy neighbour: busy-loops on one CPU in bursts at random moments, until its time is up.

The development VM has slow spells of its own (host_speed.py sees 1 s slices at 60 % of the median, some minutes
and not others), and which minute a benchmark meets decides how steady a server looks. This makes such spells on
demand: pinned to the server's CPU, each burst takes about half of that CPU (the scheduler shares it fairly), so the
server runs at half speed for ``--burst-ms``, a spell; the gaps between bursts are exponential with mean
``--every-s`` (seeded: the same pattern every run). capacity_accuracy --noisy-neighbour runs it for all of (c).

Bounded: it exits after ``--max-seconds`` whatever happens, and prints one JSON line with what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time


def burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def bounds_error(burst_ms: float, every_s: float) -> str | None:
    """Why these settings cannot make spells, or None (shared with capacity_accuracy's --noisy-neighbour)."""
    if burst_ms <= 0 or every_s <= burst_ms / 1000:
        return "need 0 < burst-ms and every-s longer than one burst"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", type=int, required=True, help="CPU to share with the server")
    parser.add_argument("--burst-ms", type=float, default=300.0, help="length of one burst (a spell)")
    parser.add_argument("--every-s", type=float, default=3.0, help="mean gap between bursts, in seconds")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if why := bounds_error(args.burst_ms, args.every_s):
        parser.error(why)
    os.sched_setaffinity(0, {args.cpu})
    rng = random.Random(args.seed)
    started = time.monotonic()
    bursts = 0
    while (elapsed := time.monotonic() - started) < args.max_seconds:
        gap = rng.expovariate(1 / args.every_s)
        time.sleep(min(gap, max(0.0, args.max_seconds - elapsed)))
        if time.monotonic() - started >= args.max_seconds:
            break
        burn(args.burst_ms / 1000)
        bursts += 1
    print(json.dumps({"cpu": args.cpu, "burst_ms": args.burst_ms, "every_s": args.every_s, "bursts": bursts}))


if __name__ == "__main__":
    main()
