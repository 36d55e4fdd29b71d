"""The Locust users that invoke an endpoint in a closed loop: unsigned ``POST /invocations`` (a local container) and
SigV4-signed ``POST /endpoints/<name>/invocations`` (SageMaker runtime's InvokeEndpoint)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from locust import FastHttpUser, constant, task
from locust.exception import CatchResponseError

from rightsizing_loadtest.endpoint import (
    ACCEPT,
    CONTAINER_INVOCATIONS_PATH,
    Invocations,
    Target,
    check_loopback_url,
    invocations_for,
    runtime_url,
)
from rightsizing_loadtest.responses import BODY_HEAD_BYTES, failure_reason
from rightsizing_loadtest.sigv4 import Credentials, CredentialSource, RequestSigner

INVOCATIONS_PATH = CONTAINER_INVOCATIONS_PATH


def _bodies(payloads: Sequence[str | bytes]) -> list[bytes]:
    if not payloads:
        raise ValueError("at least one payload is needed")
    return [p.encode() if isinstance(p, str) else bytes(p) for p in payloads]


def judge(response: Any) -> bool:
    """Mark a ``catch_response`` response: 2xx with a complete body passes; anything else fails with its reason.

    Shared by the closed-loop users and the open-loop pacer, so both count failures alike. Returns whether it passed.
    """
    status = response.status_code
    if status == 0:
        # No HTTP response (refused, reset, timed out): keep the transport exception as the reason.
        error = getattr(response, "error", None)
        response.failure(error if isinstance(error, Exception) else ConnectionError("no response"))
        return False
    if 200 <= status < 300:
        # A 2xx whose body could not be read (connection cut mid-body) is a transport failure.
        body_error = response.request_meta.get("exception")
        if isinstance(body_error, Exception):
            response.failure(body_error)
            return False
        response.success()
        return True
    headers = response.headers
    error_type = headers.get("x-amzn-ErrorType") if headers else None
    head = (response.content or b"")[:BODY_HEAD_BYTES]
    response.failure(CatchResponseError(failure_reason(status, error_type, head)))
    return False


class _InvocationsUserBase(FastHttpUser):
    """Closed loop: ``wait_time = constant(0)``, so each user keeps exactly one request in flight and the load is
    set by the user count. Think time would make the test measure the offered load instead of the capacity."""

    abstract = True
    wait_time = constant(0)
    max_retries = 0  # a retry would hide a failure and distort latency


def make_invocations_user(
    payloads: Sequence[str | bytes],
    content_type: str,
    *,
    timeout_seconds: float = 60.0,
) -> type[FastHttpUser]:
    """A user class bound to these payloads and content type (no module globals, one class per job)."""
    bodies = _bodies(payloads)
    # One rotation shared by all users: gevent runs them on one thread, so next() needs no lock.
    rotation = itertools.cycle(bodies)
    headers = {"Content-Type": content_type, "Accept": ACCEPT}

    class InvocationsUser(_InvocationsUserBase):
        network_timeout = timeout_seconds
        connection_timeout = timeout_seconds

        @task
        def invoke(self) -> None:
            with self.client.post(
                INVOCATIONS_PATH, data=next(rotation), headers=headers, name=INVOCATIONS_PATH, catch_response=True
            ) as response:
                judge(response)

    return InvocationsUser


def make_signed_invocations_user(
    payloads: Sequence[str | bytes],
    content_type: str,
    endpoint_name: str,
    region: str,
    credentials: Credentials | CredentialSource,
    *,
    timeout_seconds: float = 60.0,
    host: str | None = None,
    signer: RequestSigner | None = None,
) -> type[FastHttpUser]:
    """A user class calling SageMaker InvokeEndpoint on ``endpoint_name`` in ``region``, each request SigV4-signed.

    ``credentials``: botocore's (refreshable) credentials from the default chain, or a ``sigv4.Credentials``.
    ``host``: a loopback base URL (e.g. ``http://127.0.0.1:8123``) to send the same signed requests to a local
    server instead, for tests and the generator benchmark; anything but loopback is refused. ``signer``: replaces
    the caching signer (the benchmark measures botocore's per-request signer through it).
    """
    base_url = check_loopback_url(host, "host") if host is not None else runtime_url(region)
    target = Target(base_url, endpoint_name, region, credentials)
    spec = invocations_for(target, payloads, content_type, signer=signer)
    path, bodies = spec.path, spec.bodies

    class SignedInvocationsUser(_InvocationsUserBase):
        host = base_url
        invocations: Invocations = spec  # for inspection (e.g. the benchmark reads signer.signatures)
        network_timeout = timeout_seconds
        connection_timeout = timeout_seconds
        insecure = False  # real credentials travel with these requests: verify SageMaker's TLS certificate

        @task
        def invoke(self) -> None:
            # One rotation shared by all users (one thread); the signer caches per payload index.
            index = spec.next_index()
            with self.client.post(
                path,
                data=bodies[index],
                headers=spec.headers_for_index(index),
                name=path,
                catch_response=True,
            ) as response:
                judge(response)

    return SignedInvocationsUser
