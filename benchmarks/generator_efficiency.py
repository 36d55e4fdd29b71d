"""Generator efficiency: requests/s per generator core, SigV4-signed vs unsigned, against a no-op local server.

    .venv/bin/python benchmarks/generator_efficiency.py [--seconds 5] [--rounds 3] [--users 32]

One run, side by side: a no-op HTTP server (asyncio, raw protocol: far faster than the generator) runs in its own
process pinned to one CPU; each trial is a fresh Locust generator process pinned to another CPU, running one variant
closed-loop for ``--seconds`` (after a 1 s warm-up) or ``--max-requests``, whichever comes first. Variants alternate
in A B C D, D C B A order round after round, so drift (thermal, other load) falls on all of them alike:

- ``unsigned``: ``make_invocations_user`` (what local mode sends);
- ``signed``: ``make_signed_invocations_user`` with the caching SigV4 signer (what the Fargate image sends);
- ``fixed-sig``: the same signed user sending headers signed once at start (no signing at all): the cost of
  carrying SigV4's headers (Authorization, token, date, host), apart from computing them;
- ``botocore``: the same signed user with botocore's ``SigV4Auth`` signing every request (what caching saves).

Signed requests carry fake credentials and go only to 127.0.0.1. The table gives RPS, generator CPU % (of one
core), RPS per generator core, and the signed/unsigned ratio (target >= 0.8). A second table times the signing
alone, in this process. Everything is bounded in seconds and requests, and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PAYLOADS = ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3", "4.9,3.1,1.5,0.1"]
CONTENT_TYPE = "text/csv"
ENDPOINT_NAME = "rightsizing-bench-c01"
REGION = "us-east-1"
FAKE_CREDENTIALS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjEJr//benchmark==")
VARIANTS = ("unsigned", "signed", "fixed-sig", "botocore")
WARMUP_SECONDS = 1.0
TARGET_RATIO = 0.8
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


# --- no-op server (own process) ---------------------------------------------------------------------------------


class NoOpProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive: every complete request (headers + Content-Length body) gets the same 200."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head = buffer[:end].lower()
            length = 0
            if (at := head.find(b"content-length:")) >= 0:
                line_end = head.find(b"\r\n", at)
                length = int(head[at + 15 : line_end if line_end >= 0 else None])
            if len(buffer) < end + 4 + length:
                break  # body still arriving
            buffer = buffer[end + 4 + length :]
            self.transport.write(RESPONSE)
        self.buffer = buffer


def serve(cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(NoOpProtocol, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


# --- one generator trial (own process: Locust monkey-patches with gevent) --------------------------------------------


class BotocoreSigner:
    """botocore's ``SigV4Auth`` on every request, as a client that does not cache would sign."""

    def __init__(self, host: str, path: str, bodies: list[bytes]) -> None:
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        self._auth = SigV4Auth(Credentials(*FAKE_CREDENTIALS), "sagemaker", REGION)
        self._url = f"http://{host}{path}"
        self._headers = {"Content-Type": CONTENT_TYPE, "Accept": "*/*", "Host": host}
        self._bodies = bodies
        self.signatures = 0

    def headers_for(self, index: int) -> dict[str, str]:
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=self._url, data=self._bodies[index], headers=dict(self._headers))
        self._auth.add_auth(request)
        self.signatures += 1
        return dict(request.headers)


class FixedSigner:
    """Headers signed once per payload at start and sent unchanged: SigV4's header volume without its CPU."""

    def __init__(self, host: str, path: str, bodies: list[bytes]) -> None:
        from rightsizing_loadtest.sigv4 import Credentials, InvocationSigner

        signer = InvocationSigner(
            bodies,
            host=host,
            path=path,
            headers={"Content-Type": CONTENT_TYPE, "Accept": "*/*"},
            region=REGION,
            credentials=Credentials(*FAKE_CREDENTIALS),
        )
        self._headers = [signer.headers_for(i) for i in range(len(bodies))]
        self.signatures = 0

    def headers_for(self, index: int) -> dict[str, str]:
        return self._headers[index]


def user_class(variant: str, url: str) -> Any:
    from rightsizing_loadtest.endpoint import invocations_path
    from rightsizing_loadtest.sigv4 import Credentials
    from rightsizing_loadtest.users import make_invocations_user, make_signed_invocations_user

    if variant == "unsigned":
        return make_invocations_user(PAYLOADS, CONTENT_TYPE, timeout_seconds=5)
    signer = None
    if variant in ("botocore", "fixed-sig"):
        factory = BotocoreSigner if variant == "botocore" else FixedSigner
        signer = factory(url.split("://")[1], invocations_path(ENDPOINT_NAME), [p.encode() for p in PAYLOADS])
    return make_signed_invocations_user(
        PAYLOADS,
        CONTENT_TYPE,
        ENDPOINT_NAME,
        REGION,
        Credentials(*FAKE_CREDENTIALS),
        timeout_seconds=5,
        host=url,
        signer=signer,
    )


def generate(variant: str, port: int, cpu: int, users: int, seconds: float, max_requests: int) -> None:
    os.sched_setaffinity(0, {cpu})
    import gevent
    from locust.env import Environment

    url = f"http://127.0.0.1:{port}"
    cls = user_class(variant, url)
    env = Environment(user_classes=[cls], host=url)
    counts = {"requests": 0, "failures": 0}
    measuring = False

    def on_request(exception: BaseException | None = None, **_: Any) -> None:
        if measuring:
            counts["requests"] += 1
            counts["failures"] += exception is not None

    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(WARMUP_SECONDS)
    invocations = getattr(cls, "invocations", None)
    signer = invocations.signer if invocations is not None else None
    signatures_before = getattr(signer, "signatures", 0)
    cpu_before, started = _cpu_seconds(), time.monotonic()
    measuring = True
    while time.monotonic() - started < seconds and counts["requests"] < max_requests:
        gevent.sleep(0.05)
    measuring = False
    elapsed, cpu_used = time.monotonic() - started, _cpu_seconds() - cpu_before
    runner.quit()
    signatures = getattr(signer, "signatures", 0) - signatures_before if signer is not None else None
    print(json.dumps({**counts, "seconds": elapsed, "cpu_seconds": cpu_used, "signatures": signatures}), flush=True)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


# --- orchestration -----------------------------------------------------------------------------------------------


@dataclass
class Trial:
    variant: str
    requests: int
    failures: int
    seconds: float
    cpu_seconds: float
    server_cpu_seconds: float
    signatures: int | None

    @property
    def per_core(self) -> float:
        return self.requests / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_trial(variant: str, port: int, server_pid: int, cpu: int, args: argparse.Namespace) -> Trial:
    command = [sys.executable, str(HERE), "--generate", variant, "--port", str(port), "--cpu", str(cpu)]
    command += ["--users", str(args.users), "--seconds", str(args.seconds), "--max-requests", str(args.max_requests)]
    server_before = process_cpu_seconds(server_pid)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 60, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{variant} generator failed:\n{completed.stderr}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    # Server CPU over the whole trial process (warm-up included): only to show the server was not the limit.
    server_cpu = process_cpu_seconds(server_pid) - server_before
    return Trial(variant, server_cpu_seconds=server_cpu, **figures)


def signing_costs() -> list[tuple[str, float]]:
    """Microseconds per request for each way of signing, one core, this process (best of 5)."""
    import hashlib

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotocoreCredentials

    from rightsizing_loadtest.endpoint import invocations_path
    from rightsizing_loadtest.sigv4 import Credentials, InvocationSigner, SigningTemplate, amz_date

    host, path, body = (
        "runtime.sagemaker.us-east-1.amazonaws.com",
        invocations_path(ENDPOINT_NAME),
        PAYLOADS[0].encode(),
    )
    headers = {"Content-Type": CONTENT_TYPE, "Accept": "*/*"}
    auth = SigV4Auth(BotocoreCredentials(*FAKE_CREDENTIALS), "sagemaker", REGION)
    template = SigningTemplate(
        method="POST",
        host=host,
        path=path,
        headers=headers,
        region=REGION,
        service="sagemaker",
        credentials=Credentials(*FAKE_CREDENTIALS),
    )
    signer = InvocationSigner(
        [p.encode() for p in PAYLOADS],
        host=host,
        path=path,
        headers=headers,
        region=REGION,
        credentials=Credentials(*FAKE_CREDENTIALS),
    )
    date_time = amz_date(int(time.time()))

    def botocore() -> None:
        auth.add_auth(AWSRequest(method="POST", url=f"https://{host}{path}", data=body, headers=dict(headers)))

    def uncached() -> None:  # a new second for every request: hash the payload, canonical request, one HMAC
        template.sign(date_time, hashlib.sha256(body).hexdigest())

    counter = iter(range(10**9))

    def cached() -> None:
        signer.headers_for(next(counter) % len(PAYLOADS))

    costs = []
    for label, function, number in (
        ("botocore SigV4Auth, every request", botocore, 2_000),
        ("sigv4.py, new signature every request", uncached, 20_000),
        ("sigv4.py, cached per (payload, second)", cached, 200_000),
    ):
        best = min(timeit.repeat(function, number=number, repeat=5)) / number
        costs.append((label, best * 1e6))
    return costs


def start_server(cpu: int) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, str(HERE), "--serve", "--cpu", str(cpu)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    return server, port


def summary(trials: list[Trial], baseline: list[Trial]) -> dict[str, float]:
    """Totals for RPS and CPU; for efficiency, the median of per-round ratios to the baseline run in the same round
    (adjacent in time), which cancels drift that totals would keep."""
    seconds = sum(t.seconds for t in trials)
    cpu = sum(t.cpu_seconds for t in trials)
    requests = sum(t.requests for t in trials)
    signatures = sum(t.signatures or 0 for t in trials)
    ratios = [t.per_core / b.per_core for t, b in zip(trials, baseline, strict=True) if b.per_core]
    return {
        "rps": requests / seconds,
        "cpu_percent": 100 * cpu / seconds,
        "per_core": statistics.median(t.per_core for t in trials),
        "per_core_min": min(t.per_core for t in trials),
        "per_core_max": max(t.per_core for t in trials),
        "server_cpu_percent": 100 * sum(t.server_cpu_seconds for t in trials) / seconds,
        "failures": sum(t.failures for t in trials),
        "requests_per_signature": requests / signatures if signatures else 0.0,
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def print_tables(
    costs: list[tuple[str, float]], results: dict[str, dict[str, float]], args: argparse.Namespace
) -> None:
    print("\nSigning cost per request (one core, in-process, best of 5):")
    for label, micros in costs:
        print(f"  {label:<42} {micros:9.2f} µs")
    print(
        f"\nGenerator efficiency: {args.rounds} rounds x {args.seconds:g} s per variant, {args.users} users, "
        "closed loop, no-op server on its own core"
    )
    header = f"  {'variant':<10} {'RPS':>7} {'gen CPU %':>10} {'RPS/core':>9} {'(min-max)':>11} {'req/sig':>8} "
    print(header + f"{'server CPU %':>13} {'failures':>9} {'/unsigned':>10} {'(min-max)':>12}")
    for variant, r in results.items():
        spread = f"{r['per_core_min']:.0f}-{r['per_core_max']:.0f}"
        ratio_spread = f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}"
        per_signature = f"{r['requests_per_signature']:.0f}" if r["requests_per_signature"] else "-"
        print(
            f"  {variant:<10} {r['rps']:7.0f} {r['cpu_percent']:10.1f} {r['per_core']:9.0f} {spread:>11} "
            f"{per_signature:>8} {r['server_cpu_percent']:13.1f} {r['failures']:9.0f} {r['ratio']:10.3f} "
            f"{ratio_spread:>12}"
        )
    print("  (RPS/core: median of trials; /unsigned: median of per-round ratios to the unsigned trial of the round)")
    ratio = results["signed"]["ratio"]
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"\nsigned/unsigned RPS per generator core = {ratio:.3f} ({verdict} the >= {TARGET_RATIO} target)")
    print(
        f"fixed-sig/unsigned = {results['fixed-sig']['ratio']:.3f}: the cost of carrying SigV4's headers alone "
        "(signatures computed once)"
    )
    botocore = results["botocore"]["ratio"]
    print(f"botocore/unsigned = {botocore:.3f}: what signing every request with botocore's SigV4Auth would cost")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per trial (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="trials per variant (default 3)")
    parser.add_argument("--users", type=int, default=32, help="closed-loop Locust users (default 32)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop a trial after this many requests")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--generate", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.cpu)
        return 0
    if args.generate:
        generate(args.generate, args.port, args.cpu, args.users, args.seconds, args.max_requests)
        return 0
    if not (0.5 <= args.seconds <= 120 and 1 <= args.rounds <= 20 and 1 <= args.users <= 1000):
        parser.error("bounds: 0.5 <= --seconds <= 120, 1 <= --rounds <= 20, 1 <= --users <= 1000")

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        parser.error("needs two CPUs: one for the server, one for the generator")
    generator_cpu, server_cpu = cpus[0], cpus[-1]
    started = time.monotonic()
    costs = signing_costs()
    server, port = start_server(server_cpu)
    trials: list[Trial] = []
    try:
        for round_index in range(args.rounds):
            order = VARIANTS if round_index % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                trial = run_trial(variant, port, server.pid, generator_cpu, args)
                trials.append(trial)
                print(
                    f"round {round_index + 1} {variant:<9} {trial.requests / trial.seconds:7.0f} RPS "
                    f"{100 * trial.cpu_seconds / trial.seconds:5.1f} % CPU {trial.per_core:7.0f} RPS/core",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    baseline = [t for t in trials if t.variant == "unsigned"]
    results = {v: summary([t for t in trials if t.variant == v], baseline) for v in VARIANTS}
    print_tables(costs, results, args)
    print(f"(total {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
