"""Swap an attribute for the duration of a block: how local mode reaches into moto's interpreter (pinned version).

The attributes patched are moto internals its type hints do not declare (a module's imported ``time``, a method
replaced on a class), so they are set by name here, in one place, and restored on every path out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def patched(target: object, name: str, value: object) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)
