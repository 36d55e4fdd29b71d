"""Fixtures for tests against servers on 127.0.0.1: every server started through ``serve`` is stopped (and its
held requests released) at teardown, whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from ground_truth import SERVICE_SECONDS, SLOTS, GroundTruthServer
from loopback import LoopbackServer

S = TypeVar("S", bound=LoopbackServer)


@pytest.fixture
def serve() -> Iterator[Callable[[S], S]]:
    started: list[LoopbackServer] = []

    def start(server: S) -> S:
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_server(serve: Callable[[GroundTruthServer], GroundTruthServer]) -> Callable[..., GroundTruthServer]:
    """A ground-truth server of known capacity (default 4 slots x 25 ms = 160 RPS)."""

    def start(slots: int = SLOTS, service_seconds: float = SERVICE_SECONDS, **kwargs: Any) -> GroundTruthServer:
        return serve(GroundTruthServer(slots, service_seconds, **kwargs))

    return start
