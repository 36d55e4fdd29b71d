"""Scaffolding shared by the load-generator tests: the default size of the ground-truth server
(benchmarks/ground_truth.py), a quiet threaded HTTP/1.1 server on 127.0.0.1 for tests that record what they
receive, and a runner for the load-test entry point (always a subprocess: importing Locust patches the importing
process with gevent)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOTS = 4
SERVICE_SECONDS = 0.025
TRUE_CAPACITY_RPS = SLOTS / SERVICE_SECONDS  # 160 rps


class LoopbackServer(ThreadingHTTPServer):
    """Binds 127.0.0.1 on a free port; the listen backlog holds every generator connection."""

    daemon_threads = True
    request_queue_size = 512

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.released = threading.Event()  # handlers that hold a request on purpose wait on this; stop() sets it
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the generator drops connections when it stops users; that is not a test failure

    def start(self) -> LoopbackServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SageMaker serves
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would add ~40 ms

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class TaskRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_load_task(env: dict[str, str], timeout: float) -> TaskRun:
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "rightsizing_loadtest.task"], env=env, capture_output=True, text=True, timeout=timeout
    )
    return TaskRun(completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started)
