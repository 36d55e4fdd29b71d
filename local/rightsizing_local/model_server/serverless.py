"""Serverless behaviour of the local model server: a concurrency cap and a cold start, shared by every worker.

SageMaker Serverless Inference throttles requests beyond the endpoint's MaxConcurrency (InvokeEndpoint answers
ThrottlingException) and provisions compute on the first request after the endpoint has been idle (a cold start,
reported by CloudWatch as ModelSetupTime). Here, both are emulated by one gate created in gunicorn's master before it
forks (``--preload``), so all workers share the semaphore and the clock:

- at most ``max_concurrency`` invocations run at once; one more is refused at once with 429 ThrottlingException;
- the first invocation after ``idle_seconds`` without any (and the very first) waits ``cold_start_seconds``, and so
  does every invocation that arrives while that setup is under way.

Enabled by the environment the local SageMaker gives a serverless endpoint's server (``SERVERLESS_ENV``).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_CONCURRENCY_ENV = "RIGHTSIZING_SERVERLESS_MAX_CONCURRENCY"
COLD_START_ENV = "RIGHTSIZING_SERVERLESS_COLD_START_SECONDS"
IDLE_ENV = "RIGHTSIZING_SERVERLESS_IDLE_SECONDS"
THROTTLED_STATUS = 429
THROTTLED_TYPE = "ThrottlingException"


@dataclass(frozen=True)
class ServerlessSettings:
    max_concurrency: int
    cold_start_seconds: float
    idle_seconds: float

    def environment(self) -> dict[str, str]:
        return {
            MAX_CONCURRENCY_ENV: str(self.max_concurrency),
            COLD_START_ENV: f"{self.cold_start_seconds:g}",
            IDLE_ENV: f"{self.idle_seconds:g}",
        }


def settings_from(environ: Mapping[str, str] = os.environ) -> ServerlessSettings | None:
    raw = environ.get(MAX_CONCURRENCY_ENV, "").strip()
    if not raw:
        return None
    settings = ServerlessSettings(
        max_concurrency=int(raw),
        cold_start_seconds=float(environ.get(COLD_START_ENV, "0") or 0),
        idle_seconds=float(environ.get(IDLE_ENV, "60") or 60),
    )
    if settings.max_concurrency < 1 or settings.cold_start_seconds < 0 or settings.idle_seconds <= 0:
        raise ValueError(f"invalid serverless settings {settings}")
    return settings


class ServerlessGate:
    """Admission for one invocation: ``enter()`` is False when the endpoint is at its concurrency (throttle), else
    it blocks through any cold start and returns True; ``leave()`` after the invocation."""

    def __init__(self, settings: ServerlessSettings) -> None:
        self.settings = settings
        context = multiprocessing.get_context("fork")  # shared with gunicorn's forked workers
        self._slots = context.BoundedSemaphore(settings.max_concurrency)
        self._clock: Any = context.Array("d", [0.0, 0.0])  # [last invocation ended or started, warm from]
        self._cold_starts: Any = context.Value("i", 0)

    @property
    def cold_starts(self) -> int:
        return int(self._cold_starts.value)

    def enter(self) -> bool:
        if not self._slots.acquire(block=False):
            return False
        now = time.monotonic()
        with self._clock.get_lock():
            last, warm_from = self._clock[0], self._clock[1]
            if last == 0.0 or now - last > self.settings.idle_seconds:
                warm_from = now + self.settings.cold_start_seconds  # scaled to zero: provision again
                self._clock[1] = warm_from
                self._cold_starts.value += 1
            self._clock[0] = max(now, warm_from)
        wait = warm_from - now
        if wait > 0:
            time.sleep(wait)
        return True

    def leave(self) -> None:
        with self._clock.get_lock():
            self._clock[0] = max(self._clock[0], time.monotonic())
        self._slots.release()
