"""Which endpoint a load test targets and how: unsigned to a loopback ``ENDPOINT_URL``, else SigV4 to SageMaker.

Import-safe (no Locust): the target is resolved and checked in-process, before any load generator starts; the
Locust users (``users``) and the open-loop pacer send the ``Invocations`` built here.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from rightsizing.models.plan import LoadTestJob
from rightsizing_loadtest.sigv4 import Credentials, CredentialSource, InvocationSigner, RequestSigner

LOOPBACK_NAMES = frozenset({"localhost"})
CONTAINER_INVOCATIONS_PATH = "/invocations"  # the inference container contract (a local server)
# What a SageMaker container gets when the caller names no response type; the unsigned user has always sent it.
ACCEPT = "*/*"
# SageMaker's EndpointName shape (botocore sagemaker-runtime model): nothing to URI-encode, so the path sent and
# the path signed are the same string.
ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
ENDPOINT_NAME_MAX = 63


class EndpointConfigError(ValueError):
    """The environment or job does not name a usable target: the task refuses to start (exit 2)."""


def check_loopback_url(url: str, variable: str = "ENDPOINT_URL") -> str:
    """The base URL, normalised; refuses anything that is not plain http(s) on a loopback host.

    Safety: the generator must never be pointed at someone else's server by a typo or a forged job.
    """
    parsed = urlparse(url.strip())
    try:
        host = parsed.hostname
        parsed.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as e:
        raise EndpointConfigError(f"{variable} '{url}' is not a valid URL: {e}") from e
    if parsed.scheme not in ("http", "https") or not host:
        raise EndpointConfigError(f"{variable} '{url}' must be an http(s) base URL like http://127.0.0.1:8080")
    if parsed.path.strip("/") or parsed.query or parsed.fragment:
        raise EndpointConfigError(f"{variable} '{url}' must be a base URL without path (/invocations is added)")
    if host.lower() not in LOOPBACK_NAMES:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise EndpointConfigError(
                f"refusing {variable} '{url}': host '{host}' is not loopback (127.0.0.0/8, localhost, ::1); "
                "remote endpoints are only reached through SageMaker runtime"
            )
    return f"{parsed.scheme}://{parsed.netloc}"


def invocations_path(endpoint_name: str) -> str:
    """``/endpoints/<name>/invocations`` (InvokeEndpoint's request URI)."""
    if len(endpoint_name) > ENDPOINT_NAME_MAX or not ENDPOINT_NAME.fullmatch(endpoint_name):
        raise EndpointConfigError(
            f"endpoint name '{endpoint_name}' is not a SageMaker endpoint name "
            f"(letters, digits and hyphens, at most {ENDPOINT_NAME_MAX})"
        )
    return f"/endpoints/{endpoint_name}/invocations"


def runtime_url(region: str) -> str:
    """SageMaker runtime's base URL in ``region``, as botocore resolves it (partition DNS suffix included).

    ``ignore_configured_endpoint_urls``: AWS_ENDPOINT_URL* (set e.g. to reach a local S3 stand-in) must never
    redirect signed invocations.
    """
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "sagemaker-runtime",
        region_name=region,
        config=Config(ignore_configured_endpoint_urls=True),
        aws_access_key_id="unused",  # resolving the URL needs no credentials; this keeps the chain from running
        aws_secret_access_key="unused",
    )
    return str(client.meta.endpoint_url)


def default_credentials() -> Credentials | CredentialSource | None:
    """botocore's standard chain: environment, web identity, ECS task role, profile, instance role."""
    import botocore.session

    credentials: CredentialSource | None = botocore.session.get_session().get_credentials()
    return credentials


@dataclass(frozen=True)
class Target:
    """Where the generator sends requests. ``credentials`` is set exactly when requests are SigV4-signed."""

    base_url: str
    endpoint_name: str
    region: str
    credentials: Credentials | CredentialSource | None = field(default=None, repr=False)  # never in a log line

    @property
    def signed(self) -> bool:
        return self.credentials is not None


def resolve_target(
    job: LoadTestJob,
    environ: Mapping[str, str] | None = None,
    *,
    load_credentials: Any = default_credentials,
) -> Target:
    """Unsigned to ``ENDPOINT_URL`` when it is set (loopback only), otherwise SigV4 to SageMaker runtime.

    Raises ``EndpointConfigError`` (a refusal) for a non-loopback ENDPOINT_URL, a bad endpoint name or no
    credentials: all found before any request is sent.
    """
    environ = os.environ if environ is None else environ
    endpoint_url = environ.get("ENDPOINT_URL", "").strip()
    if endpoint_url:
        return Target(check_loopback_url(endpoint_url), job.endpoint_name, job.region)
    invocations_path(job.endpoint_name)  # validate now, not on the first request
    credentials = load_credentials()
    if credentials is None:
        raise EndpointConfigError(
            "ENDPOINT_URL is not set, so requests go SigV4-signed to SageMaker runtime, but no AWS credentials "
            "were found (environment, ECS task role, profile or instance role); set ENDPOINT_URL to a loopback "
            "base URL such as http://127.0.0.1:8080 to test a local server"
        )
    return Target(runtime_url(job.region), job.endpoint_name, job.region, credentials)


class Invocations:
    """What every request of a job looks like: base URL, path, bodies in rotation and their headers.

    Shared by the closed-loop users and the open-loop pacer, so both send exactly the same requests. Headers are
    fixed (unsigned) or come from the signer, which reuses a signature per (payload, second). Not thread-safe,
    and need not be: Locust runs everything on one thread (greenlets).
    """

    def __init__(
        self,
        base_url: str,
        path: str,
        payloads: Sequence[str | bytes],
        headers: Mapping[str, str],
        signer: RequestSigner | None = None,
    ) -> None:
        if not payloads:
            raise ValueError("at least one payload is needed")
        self.base_url = base_url
        self.path = path
        self.bodies = [p.encode() if isinstance(p, str) else bytes(p) for p in payloads]
        self.signer = signer
        self._headers = dict(headers)
        # Equal bodies share the first one's index (and so its cached signature).
        self._index = {body: i for i, body in reversed(list(enumerate(self.bodies)))}
        self._rotation = itertools.cycle(range(len(self.bodies)))

    @property
    def signed(self) -> bool:
        return self.signer is not None

    def next_index(self) -> int:
        return next(self._rotation)

    def next_body(self) -> bytes:
        return self.bodies[next(self._rotation)]

    def headers_for_index(self, index: int) -> dict[str, str]:
        """Headers for body ``index``, signed now when signing; shared dicts: do not mutate."""
        return self._headers if self.signer is None else self.signer.headers_for(index)

    def headers_for(self, body: bytes) -> dict[str, str]:
        """Headers for one of ``bodies`` (the open-loop pacer's ``headers_for`` callback)."""
        return self._headers if self.signer is None else self.signer.headers_for(self._index[body])


def unsigned_invocations(base_url: str, payloads: Sequence[str | bytes], content_type: str) -> Invocations:
    """``POST /invocations`` to a local container (the inference container contract)."""
    return Invocations(base_url, CONTAINER_INVOCATIONS_PATH, payloads, _headers(content_type))


def invocations_for(
    target: Target, payloads: Sequence[str | bytes], content_type: str, *, signer: RequestSigner | None = None
) -> Invocations:
    """The requests for ``target``: ``POST /invocations`` unsigned, or InvokeEndpoint signed with SigV4.

    ``signer`` replaces the caching signer (the generator benchmark measures botocore's per-request one with it).
    """
    if target.credentials is None:
        return unsigned_invocations(target.base_url, payloads, content_type)
    headers = _headers(content_type)
    path = invocations_path(target.endpoint_name)
    invocations = Invocations(target.base_url, path, payloads, headers)
    invocations.signer = signer or InvocationSigner(
        invocations.bodies,
        # The Host header sent is the one signed: set explicitly, so the HTTP client cannot differ (e.g. a port).
        host=urlparse(target.base_url).netloc,
        path=path,
        headers=headers,
        region=target.region,
        credentials=target.credentials,
    )
    return invocations


def _headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Accept": ACCEPT}
