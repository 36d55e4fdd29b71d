"""Ground-truth servers on 127.0.0.1 with a known capacity, and the true SLA-bound rate they imply.

A server has ``slots`` requests in service at once, each taking a fixed or exponentially distributed service time,
FIFO waiting room of ``queue`` requests (beyond it: 503, as an overloaded model server would answer). It speaks
just enough HTTP/1.1 (keep-alive, Content-Length) for Locust and the SageMaker container contract (GET /ping,
POST /invocations). The benchmarks run it in its own process (``main``: asyncio, one core); the tests run the same
server in a thread of their own process (``BackgroundServer``), where it can also answer every invocation with an
error status or hold it unanswered.

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
import threading
import time
from http import HTTPStatus

import numpy as np

OK_BODY = b'{"predictions":[{"score":0.1,"label":0}]}'


def response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {content_type}\r\n"
    return head.encode() + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


PING = response(200, b"ok", "text/plain")
OK = response(200, OK_BODY)
BUSY = response(503, b"busy", "text/plain")
NOT_FOUND = response(404, b'{"error": "not found"}')


class Server:
    """``status``: the status every invocation is answered with after its service time (200: a prediction).
    ``hang``: invocations are never answered (until the server stops). ``queue``: None is an unbounded room."""

    def __init__(
        self,
        slots: int,
        service_ms: float,
        exponential: bool = False,
        queue: int | None = None,
        seed: int = 11,
        status: int = 200,
        hang: bool = False,
    ) -> None:
        self.slots = asyncio.Semaphore(slots)  # FIFO wake-up: waiters are served in arrival order
        self.service_s = service_ms / 1000
        self.exponential = exponential
        self.queue_limit = queue
        self.answer = OK if status == 200 else response(status, b'{"message": "model error"}')
        self.hang = hang
        self.waiting = 0
        self.invocations = 0  # invocations served (their service time taken), whatever the status
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
                method, path = head.split(b" ", 2)[:2]
                if method == b"POST" and path == b"/invocations":
                    if self.hang:
                        await asyncio.Event().wait()  # held until the server stops and cancels this handler
                    reply = await self.invoke()
                elif method == b"GET" and path in (b"/ping", b"/stats"):
                    reply = PING if path == b"/ping" else self.stats()
                else:
                    reply = NOT_FOUND
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def invoke(self) -> bytes:
        if self.queue_limit is not None and self.waiting >= self.queue_limit:
            return BUSY
        self.waiting += 1
        async with self.slots:
            self.waiting -= 1
            seconds = self.random.expovariate(1 / self.service_s) if self.exponential else self.service_s
            started = time.perf_counter()
            await asyncio.sleep(seconds)
            self.durations_ms.append((time.perf_counter() - started) * 1000)
        self.invocations += 1
        return self.answer

    def stats(self) -> bytes:
        """The last 50,000 service times, and how many there were in all (to tell one period's from the next)."""
        body = {"durations_ms": self.durations_ms[-50_000:], "count": len(self.durations_ms)}
        return response(200, json.dumps(body).encode())


class BackgroundServer:
    """A ``Server`` on a free 127.0.0.1 port, run by its own event loop in a daemon thread of this process.

    ``stop`` closes the listener and every connection, held and queued requests included, and joins the thread.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True, name="ground-truth")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def invocations(self) -> int:
        return self.server.invocations

    def start(self) -> BackgroundServer:
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise RuntimeError("the ground-truth server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        listener = await asyncio.start_server(self.server.handle, "127.0.0.1", 0, backlog=4096)
        self.port = listener.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        listener.close()
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


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
