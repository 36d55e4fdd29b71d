"""Ground-truth servers on 127.0.0.1 with a known capacity, and the true SLA-bound rate they imply.

A server has ``slots`` requests in service at once, each taking a fixed or exponentially distributed service time,
FIFO waiting room of ``queue`` requests (beyond it: 503, as an overloaded model server would answer). It speaks
just enough HTTP/1.1 (keep-alive, Content-Length) for Locust and runs in its own process (asyncio, one core).

Truth: fixed service time S and deterministic (open-loop, constant-rate) arrivals give no queueing below
capacity, so the SLA-bound rate is capacity = slots / S (when S is below the SLA). With exponential service
times the p95 latency grows before capacity; ``true_sla_rate`` finds the rate where the simulated p95 of the same
queue under the same arrival process equals the SLA.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import sys
import time

import numpy as np

PING = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
OK_BODY = b'{"predictions":[{"score":0.1,"label":0}]}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(OK_BODY), OK_BODY)
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"


class Server:
    def __init__(self, slots: int, service_ms: float, exponential: bool, queue: int, seed: int) -> None:
        self.slots = asyncio.Semaphore(slots)  # FIFO wake-up: waiters are served in arrival order
        self.service_s = service_ms / 1000
        self.exponential = exponential
        self.queue_limit = queue
        self.waiting = 0
        self.random = random.Random(seed)
        self.durations_ms: list[float] = []  # what service actually took (timer overshoot included)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET /stats"):
                    writer.write(self.stats())
                else:
                    writer.write(PING if head.startswith(b"GET /ping") else await self.invoke())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()

    async def invoke(self) -> bytes:
        if self.waiting >= self.queue_limit:
            return BUSY
        self.waiting += 1
        async with self.slots:
            self.waiting -= 1
            seconds = self.random.expovariate(1 / self.service_s) if self.exponential else self.service_s
            started = time.perf_counter()
            await asyncio.sleep(seconds)
            self.durations_ms.append((time.perf_counter() - started) * 1000)
        return OK

    def stats(self) -> bytes:
        body = json.dumps({"durations_ms": self.durations_ms[-50_000:]}).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def serve(port: int, server: Server) -> None:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", port, backlog=4096)
    print(f"ready {listener.sockets[0].getsockname()[1]}", flush=True)
    async with listener:
        await listener.serve_forever()


def true_sla_rate(
    slots: int,
    service_ms: float,
    exponential: bool,
    sla_ms: float,
    fraction: float = 0.95,
    overhead_ms: float = 0.5,
    observed_ms: list[float] | None = None,
) -> float:
    """Highest constant arrival rate whose simulated p-``fraction`` latency stays within the SLA (bisection).

    ``observed_ms``: service durations the server really took (its timer overshoots the nominal time a little);
    when given, the truth is computed from them instead of from the nominal distribution.
    """
    mean_ms = sum(observed_ms) / len(observed_ms) if observed_ms else service_ms
    capacity = slots / (mean_ms / 1000)
    if not exponential:
        return capacity if mean_ms + overhead_ms <= sla_ms else 0.0
    rng = random.Random(7)
    if observed_ms:
        service = [rng.choice(observed_ms) for _ in range(60_000)]
    else:
        service = [rng.expovariate(1 / service_ms) for _ in range(60_000)]
    lo, hi = 0.0, capacity
    for _ in range(25):
        rate = (lo + hi) / 2
        if _simulated_percentile(rate, slots, service, fraction) + overhead_ms <= sla_ms:
            lo = rate
        else:
            hi = rate
    return lo


def _simulated_percentile(rate: float, slots: int, service_ms: list[float], fraction: float) -> float:
    """FIFO c-server queue, deterministic arrivals every 1000/rate ms: the ``fraction`` quantile of sojourn time."""
    free_at = [0.0] * slots  # a heap of the times each slot becomes free
    gap = 1000 / rate
    sojourn = []
    for i, s in enumerate(service_ms):
        arrival = i * gap
        done = max(arrival, heapq.heappop(free_at)) + s
        heapq.heappush(free_at, done)
        sojourn.append(done - arrival)
    warm = len(sojourn) // 10  # discard the empty-system start
    return float(np.quantile(sojourn[warm:], fraction))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slots", type=int, required=True)
    parser.add_argument("--service-ms", type=float, required=True)
    parser.add_argument("--exponential", action="store_true")
    parser.add_argument("--queue", type=int, default=1000)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.cpu is not None and args.cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {args.cpu})
    server = Server(args.slots, args.service_ms, args.exponential, args.queue, seed=11)
    try:
        asyncio.run(serve(args.port, server))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
