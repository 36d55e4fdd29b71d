"""A ground-truth server with a known capacity: ``slots`` workers that each take ``service_seconds`` per request,
so capacity = slots / service_seconds requests per second (SageMaker container contract: /ping, /invocations)."""

from __future__ import annotations

import threading
import time

from loopback import LoopbackServer, QuietHandler

SLOTS = 4
SERVICE_SECONDS = 0.025
TRUE_CAPACITY_RPS = SLOTS / SERVICE_SECONDS  # 160 rps


class GroundTruthServer(LoopbackServer):
    """SageMaker container contract: GET /ping, POST /invocations answered after a fixed service time."""

    def __init__(self, slots: int, service_seconds: float, status: int = 200, hang: bool = False) -> None:
        self.slots = threading.Semaphore(slots)
        self.service_seconds = service_seconds
        self.status = status
        self.hang = hang
        self.invocations = 0
        super().__init__(_Handler)


class _Handler(QuietHandler):
    server: GroundTruthServer

    def _reply(self, status: int, body: bytes) -> None:
        self.reply(status, body)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._reply(200, b"{}")
        else:
            self._reply(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/invocations":
            self._reply(404, b'{"error": "not found"}')
            return
        if self.server.hang:
            self.server.released.wait(60)
            return
        with self.server.slots:
            time.sleep(self.server.service_seconds)
        self.server.invocations += 1
        if self.server.status == 200:
            self._reply(200, b'{"predictions": [0.1]}')
        else:
            self._reply(self.server.status, b'{"message": "model error"}')
