"""The load generator's SigV4 signer, byte for byte against botocore, and its caches (signing key, per-second reuse).

``rightsizing_loadtest.sigv4`` is pure (no Locust), so it is tested in-process.
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import timeit
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials as BotocoreCredentials

from rightsizing_loadtest.sigv4 import (
    Credentials,
    InvocationSigner,
    SigningTemplate,
    amz_date,
    signing_key,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with+slashes=="
HOST = "runtime.sagemaker.us-east-1.amazonaws.com"
PATH = "/endpoints/rightsizing-run-1-c01/invocations"
HEADERS = {"Content-Type": "text/csv", "Accept": "*/*"}
PAYLOADS = [b"5.1,3.5,1.4,0.2", b"6.2,2.9,4.3,1.3", b'{"instances": [[1, 2, 3]]}']
NOON = calendar.timegm((2026, 5, 9, 12, 0, 0))


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def botocore_headers(
    *,
    epoch: int,
    body: bytes,
    credentials: Credentials,
    url: str = f"https://{HOST}{PATH}",
    headers: dict[str, str] = HEADERS,
    region: str = "us-east-1",
) -> dict[str, str]:
    """What botocore's own SigV4Auth puts on the same request at the same second."""
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    signer = SigV4Auth(
        BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token), "sagemaker", region
    )
    now = datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        signer.add_auth(request)
    return dict(request.headers)


def make_signer(clock: FakeClock, credentials: Any, payloads: list[bytes] = PAYLOADS) -> InvocationSigner:
    return InvocationSigner(
        payloads, host=HOST, path=PATH, headers=HEADERS, region="us-east-1", credentials=credentials, clock=clock
    )


@pytest.fixture(autouse=True)
def fresh_signing_keys() -> Iterator[None]:
    signing_key.cache_clear()
    yield
    signing_key.cache_clear()


@pytest.mark.parametrize("token", [None, SESSION_TOKEN], ids=["long-term-keys", "session-token"])
@pytest.mark.parametrize("body", [*PAYLOADS, b""], ids=["csv", "csv2", "json", "empty"])
def test_signing_template_matches_botocore_sigv4auth(token: str | None, body: bytes) -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, token)
    template = SigningTemplate(
        method="POST",
        host=HOST,
        path=PATH,
        headers=HEADERS,
        region="us-east-1",
        service="sagemaker",
        credentials=credentials,
    )

    ours = template.sign(amz_date(NOON), hashlib.sha256(body).hexdigest())

    expected = botocore_headers(epoch=NOON, body=body, credentials=credentials)
    assert ours["Authorization"] == expected["Authorization"]
    assert ours["X-Amz-Date"] == expected["X-Amz-Date"] == "20260509T120000Z"
    assert ours.get("X-Amz-Security-Token") == expected.get("X-Amz-Security-Token") == token
    assert ours["Host"] == HOST
    assert {k: v for k, v in ours.items() if k in HEADERS} == HEADERS


def test_signing_template_matches_botocore_for_loopback_host_with_port() -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    template = SigningTemplate(
        method="POST",
        host="127.0.0.1:8123",
        path=PATH,
        headers=headers,
        region="eu-west-1",
        service="sagemaker",
        credentials=credentials,
    )

    ours = template.sign(amz_date(NOON), hashlib.sha256(PAYLOADS[2]).hexdigest())

    expected = botocore_headers(
        epoch=NOON,
        body=PAYLOADS[2],
        credentials=credentials,
        url=f"http://127.0.0.1:8123{PATH}",
        headers=headers,
        region="eu-west-1",
    )
    assert ours["Authorization"] == expected["Authorization"]


def test_invocation_signer_matches_real_sagemaker_runtime_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # What boto3's invoke_endpoint really sends, captured before it leaves the process (no network).
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(variable, raising=False)
    captured: list[AWSRequest] = []

    def capture(request: AWSRequest, **_kwargs: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, 200, {"Content-Type": "text/csv"}, mock.Mock(stream=lambda **_: iter([b"1"])))

    session = boto3.session.Session(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, region_name="us-east-1")
    client = session.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    client.meta.events.register("before-send", capture)
    client.invoke_endpoint(EndpointName="rightsizing-run-1-c01", Body=PAYLOADS[1], ContentType="text/csv", Accept="*/*")
    sent = captured[0]
    sent_at = calendar.timegm(
        datetime.datetime.strptime(sent.headers["X-Amz-Date"].decode(), "%Y%m%dT%H%M%SZ").timetuple()
    )

    ours = make_signer(FakeClock(sent_at + 0.5), Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)).headers_for(1)

    assert sent.url == f"https://{HOST}{PATH}"
    assert ours["Authorization"] == sent.headers["Authorization"].decode()
    assert ours["X-Amz-Security-Token"] == sent.headers["X-Amz-Security-Token"].decode()


def test_invocation_signer_reuses_signature_within_a_second() -> None:
    clock = FakeClock(NOON + 0.1)
    signer = make_signer(clock, Credentials(ACCESS_KEY, SECRET_KEY))

    first = [signer.headers_for(i) for i in range(len(PAYLOADS))]
    for step in range(1_000):
        clock.now = NOON + 0.1 + step * 0.0008  # still the same second
        assert signer.headers_for(step % len(PAYLOADS)) is first[step % len(PAYLOADS)]

    assert signer.signatures == len(PAYLOADS)
    assert signer.requests == 1_000 + len(PAYLOADS)
    assert len({h["Authorization"] for h in first}) == len(PAYLOADS)  # one signature per payload


def test_invocation_signer_signs_again_when_the_second_changes() -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    clock = FakeClock(NOON + 0.999)
    signer = make_signer(clock, credentials)
    before = signer.headers_for(0)

    clock.now = NOON + 1.0
    after = signer.headers_for(0)

    assert before["X-Amz-Date"] == "20260509T120000Z" and after["X-Amz-Date"] == "20260509T120001Z"
    assert after["Authorization"] != before["Authorization"]
    expected = botocore_headers(epoch=NOON + 1, body=PAYLOADS[0], credentials=credentials)
    assert after["Authorization"] == expected["Authorization"]
    assert signer.signatures == 2


def test_signing_key_is_derived_once_per_day() -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    midnight = calendar.timegm((2026, 5, 10, 0, 0, 0))
    clock = FakeClock(midnight - 3_600)
    signer = make_signer(clock, credentials)

    for second in range(midnight - 3_600, midnight - 3_600 + 50):
        clock.now = second
        signer.headers_for(second % len(PAYLOADS))
    assert signing_key.cache_info().misses == 1  # 50 signatures, one key derivation

    clock.now = midnight - 1
    last_of_day = signer.headers_for(0)
    clock.now = midnight
    first_of_next_day = signer.headers_for(0)

    assert signing_key.cache_info().misses == 2  # a new UTC day needs a new key
    for epoch, headers in ((midnight - 1, last_of_day), (midnight, first_of_next_day)):
        assert (
            headers["Authorization"]
            == botocore_headers(epoch=epoch, body=PAYLOADS[0], credentials=credentials)["Authorization"]
        )
    assert "/20260510/us-east-1/sagemaker/aws4_request" in first_of_next_day["Authorization"]


def test_invocation_signer_picks_up_rotated_role_credentials() -> None:
    class RotatingSource:
        def __init__(self) -> None:
            self.current = BotocoreCredentials("ASIAOLD", "old-secret", "old-token")
            self.calls = 0

        def get_frozen_credentials(self) -> Any:
            self.calls += 1
            return self.current.get_frozen_credentials()

    source = RotatingSource()
    clock = FakeClock(NOON)
    signer = make_signer(clock, source)
    old = [signer.headers_for(0) for _ in range(100)]

    source.current = BotocoreCredentials("ASIANEW", "new-secret", "new-token")
    clock.now = NOON + 1
    new = signer.headers_for(0)

    assert source.calls == 2  # read once per second, not per request
    assert "Credential=ASIAOLD/" in old[-1]["Authorization"]
    assert new["X-Amz-Security-Token"] == "new-token"
    expected = botocore_headers(
        epoch=NOON + 1, body=PAYLOADS[0], credentials=Credentials("ASIANEW", "new-secret", "new-token")
    )
    assert new["Authorization"] == expected["Authorization"]


@pytest.mark.parametrize("header", ["Host", "authorization", "X-Amz-Date", "x-amz-security-token", "User-Agent"])
def test_signing_template_refuses_headers_it_owns_or_never_signs(header: str) -> None:
    with pytest.raises(ValueError, match=header.lower()):
        SigningTemplate(
            method="POST",
            host=HOST,
            path=PATH,
            headers={**HEADERS, header: "x"},
            region="us-east-1",
            service="sagemaker",
            credentials=Credentials(ACCESS_KEY, SECRET_KEY),
        )


def test_invocation_signer_refuses_no_payloads() -> None:
    with pytest.raises(ValueError, match="at least one payload"):
        make_signer(FakeClock(NOON), Credentials(ACCESS_KEY, SECRET_KEY), payloads=[])


def test_cached_signing_costs_a_small_fraction_of_botocore_signing() -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    signer = make_signer(FakeClock(NOON), credentials)
    botocore_signer = SigV4Auth(BotocoreCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "sagemaker", "us-east-1")

    def sign_with_botocore() -> None:
        botocore_signer.add_auth(
            AWSRequest(method="POST", url=f"https://{HOST}{PATH}", data=PAYLOADS[0], headers=HEADERS)
        )

    # Best of 3 of each: robust to a busy machine; the real gap is ~300x (see benchmarks/generator_efficiency.py).
    cached = min(timeit.repeat(lambda: signer.headers_for(0), number=2_000, repeat=3)) / 2_000
    botocore = min(timeit.repeat(sign_with_botocore, number=200, repeat=3)) / 200
    assert cached * 20 < botocore, (cached, botocore)
