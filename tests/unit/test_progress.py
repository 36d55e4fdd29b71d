"""Progress lines of a local run: a failing probe says why, since its p95 alone may look fine."""

from __future__ import annotations

import io
import json

from rich.console import Console

from rightsizing.models.targets import LatencySla
from rightsizing_cli.progress import ProgressPrinter


def _line(stage: str, percentile: str = "p95", **event: object) -> str:
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None)
    printer = ProgressPrinter(console, {"c01": "c01-local-small"}, LatencySla(percentile=percentile, milliseconds=100))
    printer("c01", stage, json.dumps(event))
    return out.getvalue()


def test_a_failed_probe_under_the_sla_says_why() -> None:
    line = _line(
        "probe",
        index=7,
        kind="open",
        target_rps=406.4,
        rps=406.3,
        p95_ms=26.6,
        error_rate=0.0,
        passed=False,
        note="unstable windows: re-measuring",
    )
    assert "probe 7: open loop 406.4 RPS offered → 406.3 RPS, p95 26.6 ms" in line
    assert "✗ unstable windows: re-measuring" in line


def test_a_closed_loop_pass_has_no_note_but_a_confirmation_has_its_label() -> None:
    closed = _line(
        "probe",
        index=2,
        kind="closed",
        users=4,
        rps=300.0,
        p95_ms=9.0,
        error_rate=0.0,
        passed=True,
        note="ceiling probe",
    )
    assert closed.rstrip().endswith("✓")
    confirmation = _line(
        "probe",
        index=9,
        kind="open",
        target_rps=200.0,
        rps=200.0,
        p95_ms=30.0,
        error_rate=0.0,
        passed=True,
        note="confirmation (20 s)",
    )
    assert confirmation.rstrip().endswith("✓ confirmation (20 s)")


def test_a_long_note_is_cut() -> None:
    line = _line(
        "probe",
        index=3,
        kind="open",
        target_rps=100.0,
        rps=90.0,
        p95_ms=80.0,
        error_rate=0.0,
        passed=False,
        note="x" * 300,
    )
    assert "x" * 99 + "…" in line
    assert "x" * 100 not in line


def test_the_probe_line_shows_the_slas_own_percentile() -> None:
    line = _line(
        "probe",
        percentile="p99",
        index=3,
        kind="open",
        target_rps=50,
        rps=49.5,
        p95_ms=20,
        p99_ms=87.5,
        error_rate=0,
        passed=True,
    )
    assert "p99 87.5 ms" in line and "p95" not in line
