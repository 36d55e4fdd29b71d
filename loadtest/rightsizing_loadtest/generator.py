"""What one generator process sends for a job: its Locust user class and its open-loop pacer.

Shared by the task (in-process mode) and every distributed worker, so all of them send identical requests.
"""

from __future__ import annotations

from collections.abc import Callable

from locust import User, between
from locust.env import Environment

from rightsizing.models.plan import LoadTestJob
from rightsizing.search.ramp import THINK_SECONDS
from rightsizing_loadtest.endpoint import Target, invocations_for
from rightsizing_loadtest.openloop import OpenLoopPacer
from rightsizing_loadtest.users import user_class_for

PacerFactory = Callable[[Environment], OpenLoopPacer]


def with_think_time(user_class: type[User]) -> type[User]:
    """The classic baseline's users wait 0.25-0.5 s between requests (and so measure offered load)."""
    return type("ClassicRampUser", (user_class,), {"wait_time": between(*THINK_SECONDS)})


def open_loop_factory(target: Target, payloads: list[bytes], content_type: str, timeout: float) -> PacerFactory:
    """The open-loop pacer sends exactly what the users send (same bodies, headers, signatures)."""
    invocations = invocations_for(target, payloads, content_type)
    return lambda env: OpenLoopPacer(
        env,
        invocations.base_url,
        invocations.next_body,
        invocations.headers_for,
        timeout,
        path=invocations.path,
        verify_tls=invocations.signed,
    )


def generator_for(
    job: LoadTestJob, target: Target, payloads: list[bytes], request_timeout: float
) -> tuple[type[User], PacerFactory]:
    user_class: type[User] = user_class_for(target, payloads, job.content_type, timeout_seconds=request_timeout)
    if job.load.mode == "ramp":
        user_class = with_think_time(user_class)
    return user_class, open_loop_factory(target, payloads, job.content_type, request_timeout)
