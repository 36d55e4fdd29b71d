"""The local run history: one JSON line per recorded run in ``<runs folder>/history.jsonl``.

Appends only; a run recorded again (a retried Recommend step) is read back as its last line. Appends are serialised
with an exclusive lock, so runs finishing at once in several processes do not interleave their lines.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from rightsizing.models.history import RunRecord

HISTORY_FILE = "history.jsonl"


class JsonLinesHistory:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_folder(cls, folder: Path) -> JsonLinesHistory:
        return cls(folder / HISTORY_FILE)

    def put(self, record: RunRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(record.model_dump_json() + "\n")

    def records(self) -> list[RunRecord]:
        """Every recorded run, oldest first, the last line of a run recorded twice winning."""
        if not self.path.is_file():
            return []
        found: dict[tuple[str, str], RunRecord] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = RunRecord.model_validate_json(line)
                found.pop((record.model_key, record.run_id), None)
                found[(record.model_key, record.run_id)] = record
        return sorted(found.values(), key=lambda r: r.finished_at)

    def latest(self, model_key: str, limit: int = 20) -> list[RunRecord]:
        return [r for r in reversed(self.records()) if r.model_key == model_key][:limit]

    def get(self, run_id: str) -> RunRecord | None:
        return next((r for r in reversed(self.records()) if r.run_id == run_id), None)
