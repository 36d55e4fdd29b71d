"""Progress lines per candidate, printed as a run goes: the local run's (thread-safe: called from interpreter
threads) and, with ``elapsed`` given, an AWS run's as ``rightsize watch`` reads them from the execution history."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape

from rightsizing.models.targets import LatencySla

# Stages whose detail is plain text: the local fakes' and the execution history's (run_history.py).
PLAIN_STAGES = {
    "creating": "deploying",
    "in_service": "in service",
    "deleted": "deleted",
    "load_test": "load test",
    "collecting": "collecting metrics",
}


class ProgressPrinter:
    """``labels``: endpoint name -> what to call the candidate; ``sla``: whose percentile each probe line shows."""

    def __init__(self, console: Console, labels: dict[str, str], sla: LatencySla) -> None:
        self._console = console
        self._labels = labels
        self._sla = sla
        self._lock = threading.Lock()
        self._started = time.monotonic()

    @property
    def count(self) -> int:
        return len(self._labels)

    def __call__(self, key: str, stage: str, detail: str, elapsed: float | None = None) -> None:
        """``elapsed``: seconds since the run started (default: since this printer was made)."""
        line = self._describe(stage, detail)
        if line is None:
            return
        if elapsed is None:
            elapsed = time.monotonic() - self._started
        with self._lock:
            self._console.print(f"[dim]{elapsed:6.1f}s[/] [cyan]{escape(self._labels.get(key, key))}[/] {line}")

    def _describe(self, stage: str, detail: str) -> str | None:
        if stage in PLAIN_STAGES:
            return PLAIN_STAGES[stage] + f" [dim]{escape(detail)}[/]"
        if stage == "run":  # the execution as a whole (planning, recommending, how it ended)
            return escape(detail)
        if stage == "failed":
            return f"[red]failed[/]: {escape(detail)}"
        if stage == "not_deleted":
            return f"[yellow]not deleted yet[/]: {escape(detail)}"
        try:
            event = json.loads(detail)
        except ValueError:
            return escape(detail)
        if stage == "probe":
            mark = "[green]✓[/]" if event.get("passed") else "[red]✗[/]"
            if event.get("kind") == "warmup":
                mark = "[dim](warm-up)[/]"
            elif not event.get("valid", True):
                mark = "[yellow]invalid: generator limit[/]"
            load = (
                f"open loop {event.get('target_rps') or 0:.1f} RPS offered"
                if event.get("kind") == "open"
                else f"{event.get('users')} users"
            )
            percentile = self._sla.percentile
            line = (
                f"probe {event.get('index')}: {load} → {event.get('rps', 0):.1f} RPS, "
                f"{percentile} {event.get(f'{percentile}_ms') or 0:.1f} ms, "
                f"errors {100 * (event.get('error_rate') or 0):.1f} % {mark}"
            )
            return line + _why(event)
        if stage == "generator":
            workers, limit = event.get("workers"), event.get("max_workers")
            return f"load generator saturated: now {workers} worker processes (max {limit})"
        if stage == "done":
            reason = escape(str(event.get("stop_reason")))
            return f"measured: {event.get('sustainable_rps', 0):.1f} RPS within SLA — {reason}"
        return None


NOTE_CHARS = 100


def _why(event: dict[str, Any]) -> str:
    """Why a probe failed (a p95 under the SLA can fail: windows disagreed, it fell behind, it is being re-measured),
    or what an open-loop pass was (a confirmation); closed-loop passes are ceiling steps and need no words."""
    note = str(event.get("note") or "")
    if not note or event.get("kind") == "warmup" or (event.get("passed") and event.get("kind") != "open"):
        return ""
    short = note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…"
    return f" [dim]{escape(short)}[/]"
