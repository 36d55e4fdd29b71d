"""The SigV4-signed InvokeEndpoint user, run by Locust against a local recording server on 127.0.0.1.

Every request the server receives is checked against botocore's own ``SigV4Auth`` for the same credentials, second
and body, so the generator's cached signatures are exactly what SageMaker runtime would verify. Locust runs in a
subprocess (importing it monkey-patches the importing process with gevent).
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from loopback import LoopbackServer, QuietHandler

ENDPOINT_NAME = "rightsizing-run-1-c01"
PATH = f"/endpoints/{ENDPOINT_NAME}/invocations"
PAYLOADS = ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3"]
CREDENTIALS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjEJr//token==")
RECORD_LIMIT = 2_000
EVENTS = Path(__file__).resolve().parents[2] / "events"

# Runs in the subprocess: the signed user with its host pointed at the local server, two users for a bounded time.
GENERATOR = r"""
import base64, json, sys
import gevent
from locust.env import Environment
from locust.stats import StatsError
from rightsizing_loadtest.endpoint import EndpointConfigError
from rightsizing_loadtest.sigv4 import Credentials
from rightsizing_loadtest.users import make_signed_invocations_user

args = json.loads(sys.argv[1])
try:
    make_signed_invocations_user(["x"], "text/csv", "ep", "us-east-1", Credentials("a", "b"), host="http://192.0.2.1")
    refused = ""
except EndpointConfigError as e:
    refused = str(e)
payloads = [base64.b64decode(p) for p in args["payloads_base64"]]  # bytes, as the task reads payloads.json
user = make_signed_invocations_user(
    payloads, args["content_type"], args["endpoint_name"], "us-east-1", Credentials(*args["credentials"]),
    timeout_seconds=args["timeout"], host=args["host"],
)
env = Environment(user_classes=[user])
env.create_local_runner().start(2, spawn_rate=2)
gevent.sleep(args["seconds"])
env.runner.quit()
total = env.stats.total
print(json.dumps({
    "host": user.host, "insecure": user.insecure, "refused": refused,
    "requests": total.num_requests, "failures": total.num_failures,
    "names": sorted(name for name, _ in env.stats.entries),
    "errors": {StatsError.parse_error(e.error): e.occurrences for e in env.stats.errors.values()},
}))
"""


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"predictions": [1]}'
    delay_seconds: float = 0.0


class RecordingServer(LoopbackServer):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.received: list[Received] = []
        super().__init__(_Handler)


class _Handler(QuietHandler):
    server: RecordingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if len(self.server.received) < RECORD_LIMIT:
            self.server.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
        reply = self.server.reply
        if reply.delay_seconds:
            self.server.released.wait(reply.delay_seconds)
        self.reply(reply.status, reply.body, reply.headers)


@pytest.fixture
def start_recorder(serve: Callable[[RecordingServer], RecordingServer]) -> Callable[..., RecordingServer]:
    return lambda reply=None: serve(RecordingServer(reply or Reply()))


def run_generator(
    host: str,
    *,
    seconds: float = 1.5,
    timeout: float = 5.0,
    payloads: list[bytes] | None = None,
    content_type: str = "text/csv",
) -> dict[str, Any]:
    bodies = payloads if payloads is not None else [p.encode() for p in PAYLOADS]
    args = {
        "payloads_base64": [base64.b64encode(body).decode() for body in bodies],
        "content_type": content_type,
        "endpoint_name": ENDPOINT_NAME,
        "credentials": CREDENTIALS,
        "host": host,
        "seconds": seconds,
        "timeout": timeout,
    }
    completed = subprocess.run(
        [sys.executable, "-c", GENERATOR, json.dumps(args)], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def botocore_authorization(request: Received) -> str:
    """botocore's signature for the received request, at the second it was signed."""
    signed_at = datetime.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    aws_request = AWSRequest(
        method=request.method,
        url=f"http://{request.headers['Host']}{request.path}",
        data=request.body,
        headers={"Content-Type": request.headers["Content-Type"], "Accept": request.headers["Accept"]},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        SigV4Auth(BotocoreCredentials(*CREDENTIALS), "sagemaker", "us-east-1").add_auth(aws_request)
    return aws_request.headers["Authorization"]


def test_signed_user_requests_verify_against_botocore_sigv4(start_recorder: Callable[..., RecordingServer]) -> None:
    server = start_recorder()

    stats = run_generator(server.url)

    assert stats["failures"] == 0 and stats["requests"] > 50
    assert stats["host"] == server.url and stats["names"] == [PATH]
    received = server.received
    assert len(received) >= min(stats["requests"], RECORD_LIMIT)
    port = server.server_address[1]
    for request in received:
        assert (request.method, request.path) == ("POST", PATH)
        assert request.headers["Host"] == f"127.0.0.1:{port}"
        assert request.headers["Content-Type"] == "text/csv"
        assert request.headers["X-Amz-Security-Token"] == CREDENTIALS[2]
        assert request.headers["Authorization"] == botocore_authorization(request)
    assert {r.body.decode() for r in received} == set(PAYLOADS)  # payload rotation
    # Signatures are reused within a second: far fewer distinct ones than requests.
    assert len({r.headers["Authorization"] for r in received}) <= len(PAYLOADS) * 3


def test_signed_user_sends_binary_bodies_unchanged_and_signed(start_recorder: Callable[..., RecordingServer]) -> None:
    # A PNG (NUL bytes, bytes that are not UTF-8) and a .npy array: sent as the same bytes, signed over those bytes.
    array = io.BytesIO()
    np.save(array, np.arange(64, dtype=np.uint8).reshape(8, 8))
    bodies = [(EVENTS / "payloads/images/disc.png").read_bytes(), array.getvalue()]
    server = start_recorder()

    stats = run_generator(server.url, seconds=1.0, payloads=bodies, content_type="image/png")

    assert stats["failures"] == 0 and stats["requests"] > 20
    received = server.received
    assert {r.body for r in received} == set(bodies)
    for request in received:
        assert request.headers["Content-Type"] == "image/png"
        assert int(request.headers["Content-Length"]) == len(request.body)
        assert request.headers["Authorization"] == botocore_authorization(request)


def test_signed_user_counts_throttling_as_failure_with_reason(start_recorder: Callable[..., RecordingServer]) -> None:
    throttled = Reply(
        status=400,
        headers={"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral/"},
        body=b'{"message": "Rate exceeded"}',
    )
    server = start_recorder(throttled)

    stats = run_generator(server.url, seconds=1.0)

    assert stats["requests"] > 0 and stats["failures"] == stats["requests"]
    assert list(stats["errors"]) == ["CatchResponseError('throttled: HTTP 400 ThrottlingException: Rate exceeded')"]


def test_signed_user_counts_timeouts_as_failures(start_recorder: Callable[..., RecordingServer]) -> None:
    server = start_recorder(Reply(delay_seconds=30))

    stats = run_generator(server.url, seconds=1.2, timeout=0.3)

    assert stats["requests"] >= 2 and stats["failures"] == stats["requests"]
    assert all("timed out" in error.lower() or "timeout" in error.lower() for error in stats["errors"]), stats


def test_signed_user_refuses_a_non_loopback_host_override(start_recorder: Callable[..., RecordingServer]) -> None:
    stats = run_generator(start_recorder().url, seconds=0.2)

    assert "refusing host 'http://192.0.2.1'" in stats["refused"]
    assert stats["insecure"] is False  # TLS is verified when real credentials travel
