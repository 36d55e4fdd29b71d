"""Fixtures for tests against servers on 127.0.0.1: every server started through ``serve`` is stopped (and its
held requests released) at teardown, whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import pytest
from ground_truth import BackgroundServer, Server
from loopback import SERVICE_SECONDS, SLOTS


class Stoppable(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)


@pytest.fixture
def serve() -> Iterator[Callable[[S], S]]:
    started: list[Stoppable] = []

    def start(server: S) -> S:
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_server(serve: Callable[[BackgroundServer], BackgroundServer]) -> Callable[..., BackgroundServer]:
    """The benchmarks' ground-truth server, in this process: ``slots`` x ``service_seconds`` (default 4 x 25 ms =
    160 RPS); ``status=500`` answers every invocation with that error, ``hang=True`` never answers."""

    def start(slots: int = SLOTS, service_seconds: float = SERVICE_SECONDS, **kwargs: Any) -> BackgroundServer:
        return serve(BackgroundServer(Server(slots, service_seconds * 1000, **kwargs)))

    return start
