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
        self._modes: dict[str, str] = {}  # key -> load mode, from the generator's start line
        self._ceilings: dict[str, float] = {}  # key -> best passing closed-loop rate (adaptive: the ceiling steps)

    @property
    def count(self) -> int:
        return len(self._labels)

    def __call__(self, key: str, stage: str, detail: str, elapsed: float | None = None) -> None:
        """``elapsed``: seconds since the run started (default: since this printer was made)."""
        if elapsed is None:
            elapsed = time.monotonic() - self._started
        with self._lock:  # also guards the per-candidate state _describe keeps
            line = self._describe(key, stage, detail)
            if line is None:
                return
            self._console.print(f"[dim]{elapsed:6.1f}s[/] [cyan]{escape(self._labels.get(key, key))}[/] {line}")

    def _describe(self, key: str, stage: str, detail: str) -> str | None:
        if stage in PLAIN_STAGES:
            return PLAIN_STAGES[stage] + f" [dim]{escape(detail)}[/]"
        if stage == "run":  # the execution as a whole (planning, recommending, how it ended)
            return escape(detail)
        if stage == "failed":
            return f"[red]failed[/]: {escape(detail)}"
        if stage == "skipped":
            return f"[yellow]skipped[/]: {escape(detail)}"
        if stage == "not_deleted":
            return f"[yellow]not deleted yet[/]: {escape(detail)}"
        try:
            event = json.loads(detail)
        except ValueError:
            return escape(detail)
        if stage == "start":
            self._modes[key] = str(event.get("mode", ""))
            return None
        if stage == "probe":
            return self._probe(key, event)
        if stage == "generator":
            workers, limit = event.get("workers"), event.get("max_workers")
            return f"load generator saturated: now {workers} worker processes (max {limit})"
        if stage == "trial":
            return _trial(event)
        if stage == "done":
            return self._done(key, event) + _interval(event)
        return None

    def _probe(self, key: str, event: dict[str, Any]) -> str:
        """One line per probe. The adaptive search's closed-loop steps only bound it ("ceiling step"); its open-loop
        "SLA probe"s decide, so a ceiling step's ✓ is not the answer."""
        kind = event.get("kind")
        if kind == "closed" and event.get("passed") and event.get("valid", True):
            self._ceilings[key] = max(self._ceilings.get(key, 0.0), float(event.get("rps") or 0.0))
        if kind == "warmup":
            mark, what = "[dim](warm-up)[/]", "warm-up"
        elif event.get("knee_bound_ms") is not None:  # judged against its own bound, not the SLA
            mark, what = _knee_mark(event), "knee probe"
        else:
            mark, what = _mark(event), _probe_name(kind, self._modes.get(key))
        load = (
            f"open loop {event.get('target_rps') or 0:.1f} RPS offered"
            if kind == "open"
            else f"{event.get('users')} users" + (" (closed loop)" if what == "ceiling step" else "")
        )
        percentile = self._sla.percentile
        line = (
            f"{what} {event.get('index')}: {load} → {event.get('rps', 0):.1f} RPS, "
            f"{percentile} {event.get(f'{percentile}_ms') or 0:.1f} ms, "
            f"errors {100 * (event.get('error_rate') or 0):.1f} % {mark}"
        )
        return line + _why(event)

    def _done(self, key: str, event: dict[str, Any]) -> str:
        reason = escape(str(event.get("stop_reason")))
        rps = float(event.get("sustainable_rps") or 0.0)
        limited = bool(event.get("generator_limited"))
        cause = "the load generator was the limit" if limited else "the test ended before it found the capacity"
        if (event.get("lower_bound") or limited) and not rps:
            return f"[yellow]not measured[/]: {cause} — {reason}"
        if event.get("lower_bound") or limited:
            return f"measured: [yellow]at least {rps:.1f} RPS within SLA (lower bound: {cause})[/] — {reason}"
        ceiling = self._ceilings.get(key, 0.0)
        why_lower = (
            f" (the ceiling steps' {ceiling:.1f} RPS was closed loop, which hides the queue open loop meets)"
            if self._modes.get(key) == "adaptive" and ceiling > rps
            else ""
        )
        return f"measured: {rps:.1f} RPS within SLA{why_lower} — {reason}"


def _trial(event: dict[str, Any]) -> str:
    """The start of one of several trials (or why it was not run)."""
    head = f"[bold]trial {event.get('trial')} of {event.get('trials')}[/]"
    if event.get("skipped"):
        return f"{head} [yellow]not run[/]: {event.get('remaining_seconds')} s left of the time limit"
    return f"{head} [dim](up to {event.get('budget_seconds')} s)[/]"


def _interval(event: dict[str, Any]) -> str:
    """The trials' 95 % interval after the figure (their mean), when there were several."""
    low, high = event.get("ci95_low_rps"), event.get("ci95_high_rps")
    if low is None or high is None:
        return ""
    return f" [bold]95 % interval [{float(low):.1f}, {float(high):.1f}] RPS over {event.get('measured')} trials[/]"


def _probe_name(kind: object, mode: str | None) -> str:
    if kind == "open":
        return "SLA probe"
    if kind == "closed" and mode in {"adaptive", None}:  # None: no start line seen; closed loop is adaptive's default
        return "ceiling step"
    return "step"


def _mark(event: dict[str, Any]) -> str:
    """✓/✗ for a verdict; a probe that was none (re-measured, or the generator's limit) says so instead."""
    if not event.get("valid", True):
        return "[yellow]invalid: generator limit[/]"
    if event.get("remeasured"):
        return "[yellow]↻ re-measured[/]"
    return "[green]✓[/]" if event.get("passed") else "[red]✗[/]"


def _knee_mark(event: dict[str, Any]) -> str:
    """A knee probe's verdict at the bound it measured (its note says which and why)."""
    if not event.get("valid", True):
        return "[yellow]invalid: generator limit[/]"
    bound = f"{event.get('knee_bound_ms'):g} ms"
    return f"[green]✓ {bound}[/]" if str(event.get("note", "")).endswith(": met it") else f"[red]✗ {bound}[/]"


NOTE_CHARS = 100


def _why(event: dict[str, Any]) -> str:
    """Why a probe failed (a p95 under the SLA can fail: windows disagreed, it fell behind, it is being re-measured),
    or what an open-loop pass was (a confirmation); closed-loop passes are ceiling steps and need no words."""
    note = str(event.get("note") or "")
    if not note or event.get("kind") == "warmup" or (event.get("passed") and event.get("kind") != "open"):
        return ""
    if event.get("knee_bound_ms") is not None and note.endswith(": met it"):
        return ""
    short = note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…"
    return f" [dim]{escape(short)}[/]"
