"""AWS Signature Version 4 for SageMaker ``InvokeEndpoint``, cheap enough for the load generator's hot path.

botocore's ``SigV4Auth`` costs ~130 µs per request on one core, more than half of what a Locust ``FastHttpUser``
request costs, so signing every request with it would make the generator, not the endpoint, the limit. The protocol
lets most of that work be done once:

- the signing key (four chained HMACs over date, region, service) is valid for a whole UTC day: derived once per
  (secret, date, region, service);
- a request's canonical form depends only on its fixed headers, its payload and the ``X-Amz-Date`` second, and the
  signature is a deterministic function of it: a signature computed for (payload, second) *is* the signature of every
  other request with that payload in that second, so it is reused (bit-identical, nothing is weakened);
- the payload hashes and the canonical request around ``X-Amz-Date`` are precomputed per job.

Pure (hashlib/hmac only, no Locust, no botocore at import) so it is tested in-process, byte for byte against
botocore's ``SigV4Auth``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Protocol

ALGORITHM = "AWS4-HMAC-SHA256"
SAGEMAKER_SIGNING_NAME = "sagemaker"  # ``signingName`` of SageMaker Runtime in botocore's service model
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# Headers a proxy or the HTTP client may rewrite or add: never signed (as botocore's SIGNED_HEADERS_BLACKLIST).
UNSIGNABLE_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_GENERATED_HEADERS = frozenset({"host", "x-amz-date", "x-amz-security-token"})


@dataclass(frozen=True)
class Credentials:
    """Kept out of ``repr``: a credential in an error message or a logged object would end up in the task's log."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


class CredentialSource(Protocol):
    """botocore's ``Credentials``/``RefreshableCredentials`` (the default chain: env, ECS task role, profile…)."""

    def get_frozen_credentials(self) -> Any: ...


def freeze(credentials: Credentials | CredentialSource) -> Credentials:
    """A consistent (access key, secret, token) snapshot; refreshable role credentials may rotate between calls."""
    if isinstance(credentials, Credentials):
        return credentials
    frozen = credentials.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)


def amz_date(epoch_second: int) -> str:
    return time.strftime(AMZ_DATE_FORMAT, time.gmtime(epoch_second))


@lru_cache(maxsize=8)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning: valid for every request of that UTC ``date`` (YYYYMMDD), so it is derived once per day."""
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def _trim(value: str) -> str:
    return " ".join(value.split())  # SigV4 Trimall: no outer spaces, inner runs collapsed


class SigningTemplate:
    """Signs requests that differ only in payload and time: one method, host, path and set of headers.

    ``headers`` are sent as given and all signed (Content-Type must be, per SigV4); ``Host``, ``X-Amz-Date`` and
    ``X-Amz-Security-Token`` are added here. The path must already be in its canonical (URI-encoded) form.
    """

    def __init__(
        self,
        *,
        method: str,
        host: str,
        path: str,
        headers: Mapping[str, str],
        region: str,
        service: str,
        credentials: Credentials,
    ) -> None:
        reserved = {name.lower() for name in headers} & (UNSIGNABLE_HEADERS | _GENERATED_HEADERS)
        if reserved:
            raise ValueError(f"headers set by the signer or never signed: {sorted(reserved)}")
        self.region = region
        self.service = service
        self.credentials = credentials
        self._fixed = {**headers, "Host": host}
        canonical = {name.lower(): _trim(value) for name, value in self._fixed.items()}
        canonical["x-amz-date"] = ""  # placeholder: the only per-second header, spliced in by sign()
        if credentials.token:
            canonical["x-amz-security-token"] = _trim(credentials.token)
            self._fixed["X-Amz-Security-Token"] = credentials.token
        names = sorted(canonical)
        self.signed_headers = ";".join(names)
        before = [f"{n}:{canonical[n]}\n" for n in names[: names.index("x-amz-date")]]
        after = [f"{n}:{canonical[n]}\n" for n in names[names.index("x-amz-date") + 1 :]]
        # canonical request = method, path, query, headers, blank line, signed header list, payload hash
        self._head = f"{method.upper()}\n{path}\n\n{''.join(before)}x-amz-date:"
        self._tail = f"\n{''.join(after)}\n{self.signed_headers}\n"
        self._credential_prefix = f"{ALGORITHM} Credential={credentials.access_key}/"
        self._scope_suffix = f"/{region}/{service}/aws4_request"

    def canonical_request(self, date_time: str, payload_sha256: str) -> str:
        return f"{self._head}{date_time}{self._tail}{payload_sha256}"

    def sign(self, date_time: str, payload_sha256: str) -> dict[str, str]:
        """Every header of the request: the fixed ones, ``X-Amz-Date`` and ``Authorization``."""
        date = date_time[:8]
        scope = f"{date}{self._scope_suffix}"
        digest = hashlib.sha256(self.canonical_request(date_time, payload_sha256).encode()).hexdigest()
        string_to_sign = f"{ALGORITHM}\n{date_time}\n{scope}\n{digest}"
        key = signing_key(self.credentials.secret_key, date, self.region, self.service)
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            **self._fixed,
            "X-Amz-Date": date_time,
            "Authorization": f"{self._credential_prefix}{scope}, SignedHeaders={self.signed_headers}, "
            f"Signature={signature}",
        }


class RequestSigner(Protocol):
    """What the signed Locust user calls per request: the headers for payload ``index``, signed now."""

    def headers_for(self, index: int) -> dict[str, str]: ...


class InvocationSigner:
    """Signed headers for ``POST <path>`` with one of a fixed list of payloads, reused within each second.

    Not thread-safe; it does not need to be: Locust's users are greenlets on one thread. The returned dicts are
    shared between requests and must not be mutated (Locust copies the headers it is given).
    """

    def __init__(
        self,
        payloads: Sequence[bytes],
        *,
        host: str,
        path: str,
        headers: Mapping[str, str],
        region: str,
        credentials: Credentials | CredentialSource,
        service: str = SAGEMAKER_SIGNING_NAME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not payloads:
            raise ValueError("at least one payload is needed")
        self._payload_hashes = [hashlib.sha256(p).hexdigest() for p in payloads]
        self._source = credentials
        self._template_for = partial(
            SigningTemplate, method="POST", host=host, path=path, headers=dict(headers), region=region, service=service
        )
        self._clock = clock
        self._template: SigningTemplate | None = None
        self._second = 0
        self._date_time = ""
        self._by_payload: dict[int, dict[str, str]] = {}
        self.requests = 0
        self.signatures = 0  # computed, as opposed to reused: requests / signatures is the cache's gain
        # Credentials are read here, before any request: a refresh that waits on I/O later (once a second) then
        # leaves the other greenlets signing with the still-valid previous ones instead of finding no template.
        self._new_second(int(clock()))

    def headers_for(self, index: int) -> dict[str, str]:
        self.requests += 1
        second = int(self._clock())
        if second != self._second:
            self._new_second(second)
        headers = self._by_payload.get(index)
        if headers is None:
            assert self._template is not None  # set in __init__
            headers = self._template.sign(self._date_time, self._payload_hashes[index])
            self._by_payload[index] = headers
            self.signatures += 1
        return headers

    def _new_second(self, second: int) -> None:
        self._second = second
        self._date_time = amz_date(second)
        self._by_payload = {}  # signatures carry their second: last second's are never reused
        # Role credentials rotate (ECS refreshes them before expiry): re-read them once a second, not per request.
        credentials = freeze(self._source)
        if self._template is None or credentials != self._template.credentials:
            self._template = self._template_for(credentials=credentials)
