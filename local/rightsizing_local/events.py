"""Progress reporting for local runs, and the local stand-in for EventBridge."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

# (endpoint or candidate key, stage, detail) -> None. Called from the interpreter's worker threads.
ProgressSink = Callable[[str, str, str], None]


def no_progress(key: str, stage: str, detail: str) -> None:
    return None


class LocalEventBus:
    """Keeps PutEvents entries in memory; the CLI reports them and tests assert on them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        with self._lock:
            for entry in Entries:
                detail = entry.get("Detail")
                self.entries.append({**entry, "Detail": json.loads(detail) if isinstance(detail, str) else detail})
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(uuid.uuid4())} for _ in Entries]}
