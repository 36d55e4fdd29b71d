"""The Locust users that invoke an endpoint in a closed loop: unsigned ``POST /invocations`` (a local container) and
SigV4-signed ``POST /endpoints/<name>/invocations`` (SageMaker runtime's InvokeEndpoint)."""

from __future__ import annotations

from collections.abc import Sequence

from locust import FastHttpUser, constant, task

from rightsizing_loadtest.endpoint import (
    Invocations,
    Target,
    check_loopback_url,
    invocations_for,
    runtime_url,
    unsigned_invocations,
)
from rightsizing_loadtest.sigv4 import Credentials, CredentialSource, RequestSigner
from rightsizing_loadtest.verdict import judge


class _InvocationsUserBase(FastHttpUser):
    """Closed loop: ``wait_time = constant(0)``, so each user keeps exactly one request in flight and the load is
    set by the user count. Think time would make the test measure the offered load instead of the capacity."""

    abstract = True
    wait_time = constant(0)
    max_retries = 0  # a retry would hide a failure and distort latency


def _user_class(spec: Invocations, timeout_seconds: float, host: str | None = None) -> type[FastHttpUser]:
    """One user class per job, bound to ``spec`` (no module globals). All users share one rotation of the bodies:
    gevent runs them on one thread, so it needs no lock; a signer caches its signature per body."""

    class InvocationsUser(_InvocationsUserBase):
        invocations = spec  # for inspection (e.g. the benchmark reads signer.signatures)
        network_timeout = timeout_seconds
        connection_timeout = timeout_seconds
        insecure = not spec.signed  # real credentials travel with signed requests: verify SageMaker's certificate

        @task
        def invoke(self) -> None:
            index = spec.next_index()
            with self.client.post(
                spec.path,
                data=spec.bodies[index],  # type: ignore[arg-type]  # Locust annotates str|dict; bytes are sent as is
                headers=spec.headers_for_index(index),
                name=spec.path,
                catch_response=True,
            ) as response:
                judge(response)

    if host is not None:
        InvocationsUser.host = host
    return InvocationsUser


def make_invocations_user(
    payloads: Sequence[str | bytes],
    content_type: str,
    *,
    timeout_seconds: float = 60.0,
) -> type[FastHttpUser]:
    """Unsigned ``POST /invocations`` with these payloads; the host is the Locust environment's."""
    return _user_class(unsigned_invocations("", payloads, content_type), timeout_seconds)


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
    return _user_class(invocations_for(target, payloads, content_type, signer=signer), timeout_seconds, base_url)


def user_class_for(
    target: Target, payloads: Sequence[str | bytes], content_type: str, *, timeout_seconds: float
) -> type[FastHttpUser]:
    """The Locust user for ``target``: signed to its SageMaker runtime URL exactly when it has credentials; unsigned
    users take the Locust environment's host."""
    host = target.base_url if target.signed else None
    return _user_class(invocations_for(target, payloads, content_type), timeout_seconds, host)
