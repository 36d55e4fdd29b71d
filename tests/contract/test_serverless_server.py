"""The local model server as a serverless endpoint: requests beyond MaxConcurrency are refused with 429
ThrottlingException (SageMaker's answer), and the first request after start or idle waits out a cold start."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rightsizing_local.model_server import ensure_builtin_model, sample_rows, start_server, wait_ready
from rightsizing_local.model_server.serverless import ServerlessSettings

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
COLD_START_SECONDS = 0.4


def _post(url: str, body: bytes) -> tuple[int, str, float]:
    """(status, x-amzn-ErrorType, seconds)."""
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    started = time.perf_counter()
    try:
        with _opener.open(request, timeout=10) as response:
            response.read()
            return response.status, "", time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-amzn-ErrorType", ""), time.perf_counter() - started


def test_concurrency_cap_throttles_and_idle_brings_a_cold_start_back(tmp_path: Path) -> None:
    settings = ServerlessSettings(max_concurrency=1, cold_start_seconds=COLD_START_SECONDS, idle_seconds=1.0)
    model = ensure_builtin_model()  # the shared cache: trained once per machine
    server = start_server(
        model,
        workers=1,
        environment=settings.environment(),
        log_path=tmp_path / "server.log",
        threads=4,
    )
    body = json.dumps({"instances": sample_rows(1)}).encode()
    with server:
        wait_ready(server)
        status, _, first = _post(server.url, body)
        assert status == 200 and first >= COLD_START_SECONDS  # the very first request provisions
        status, _, warm = _post(server.url, body)
        assert status == 200 and warm < COLD_START_SECONDS
        # Four at once against MaxConcurrency 1: the first to enter keeps the slot through a fresh cold start
        # (after 1 s idle), so the others arrive while it is busy and are refused at once, as SageMaker does.
        time.sleep(1.2)
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda _: _post(server.url, body), range(4)))
        statuses = sorted(status for status, _, _ in replies)
        assert statuses.count(200) >= 1 and statuses.count(429) >= 1, replies
        assert all(kind.startswith("ThrottlingException") for status, kind, _ in replies if status == 429)
        assert max(seconds for status, _, seconds in replies if status == 200) >= COLD_START_SECONDS
