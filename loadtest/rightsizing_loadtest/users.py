"""The Locust user that invokes a SageMaker-style endpoint: POST /invocations in a closed loop."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from locust import FastHttpUser, constant, task
from locust.exception import CatchResponseError

INVOCATIONS_PATH = "/invocations"
_REASON_CHARS = 100  # a short body excerpt names the failure without making every error row unique


def make_invocations_user(
    payloads: Sequence[str | bytes],
    content_type: str,
    *,
    timeout_seconds: float = 60.0,
) -> type[FastHttpUser]:
    """A user class bound to these payloads and content type (no module globals, one class per job).

    ``wait_time = constant(0)``: no think time, so each user keeps exactly one request in flight and the load is
    set by the user count. Think time would make the test measure the offered load instead of the capacity.
    """
    if not payloads:
        raise ValueError("at least one payload is needed")
    bodies = [p.encode() if isinstance(p, str) else bytes(p) for p in payloads]
    # One rotation shared by all users: gevent runs them on one thread, so next() needs no lock.
    rotation = itertools.cycle(bodies)
    headers = {"Content-Type": content_type, "Accept": "*/*"}

    class InvocationsUser(FastHttpUser):
        wait_time = constant(0)
        network_timeout = timeout_seconds
        connection_timeout = timeout_seconds
        max_retries = 0  # a retry would hide a failure and distort latency

        @task
        def invoke(self) -> None:
            with self.client.post(
                INVOCATIONS_PATH, data=next(rotation), headers=headers, name=INVOCATIONS_PATH, catch_response=True
            ) as response:
                status = response.status_code
                if status == 0:
                    # No HTTP response (refused, reset, timed out): keep the transport exception as the reason.
                    error = getattr(response, "error", None)
                    response.failure(error if isinstance(error, Exception) else ConnectionError("no response"))
                elif 200 <= status < 300:
                    # A 2xx whose body could not be read (connection cut mid-body) is a transport failure.
                    body_error = response.request_meta.get("exception")
                    if isinstance(body_error, Exception):
                        response.failure(body_error)
                    else:
                        response.success()
                else:
                    # Decode only the head of the body: charset detection on a large body would cost generator CPU.
                    head = (response.content or b"")[: _REASON_CHARS * 4].decode("utf-8", errors="replace")
                    excerpt = " ".join(head.split())[:_REASON_CHARS]
                    response.failure(CatchResponseError(f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"))

    return InvocationsUser
