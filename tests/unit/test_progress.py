"""Progress lines of a local run: a failing probe says why, since its p95 alone may look fine."""

from __future__ import annotations

import io
import json

from rich.console import Console

from rightsizing.models.targets import LatencySla
from rightsizing_cli.progress import ProgressPrinter


def _lines(*events: tuple[str, dict[str, object]], percentile: str = "p95") -> list[str]:
    """What one printer prints for one candidate's events, in order."""
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None)
    printer = ProgressPrinter(console, {"c01": "c01-local-small"}, LatencySla(percentile=percentile, milliseconds=100))
    for stage, event in events:
        printer("c01", stage, json.dumps(event))
    return out.getvalue().splitlines()


def _line(stage: str, percentile: str = "p95", **event: object) -> str:
    return "\n".join(_lines((stage, event), percentile=percentile))


def test_a_failed_probe_under_the_sla_says_why() -> None:
    line = _line(
        "probe",
        index=7,
        kind="open",
        target_rps=406.4,
        rps=390.3,
        p95_ms=26.6,
        error_rate=0.0,
        passed=False,
        note="completed 390.3 of 406.4 RPS offered: falling behind",
    )
    assert "SLA probe 7: open loop 406.4 RPS offered → 390.3 RPS, p95 26.6 ms" in line
    assert "✗ completed 390.3 of 406.4 RPS offered: falling behind" in line


def test_a_probe_within_the_sla_re_measured_for_its_windows_is_not_a_failure() -> None:
    line = _line(
        "probe",
        index=7,
        kind="open",
        target_rps=406.4,
        rps=406.3,
        p95_ms=26.6,
        error_rate=0.0,
        passed=False,
        remeasured=True,
        note="within the SLA, but its windows disagree: re-measuring",
    )
    assert "✗" not in line
    assert "↻ re-measured within the SLA, but its windows disagree: re-measuring" in line


def test_ceiling_steps_are_told_from_sla_probes_and_a_lower_answer_is_explained() -> None:
    closed = {"kind": "closed", "users": 4, "rps": 130.0, "p95_ms": 40.0, "error_rate": 0.0, "passed": True}
    opened = {"kind": "open", "target_rps": 91.0, "rps": 91.0, "p95_ms": 90.0, "error_rate": 0.0, "passed": True}
    done = {"sustainable_rps": 91.0, "generator_limited": False, "lower_bound": False, "stop_reason": "SLA bracketed"}
    lines = _lines(
        ("start", {"mode": "adaptive"}),
        ("probe", {"index": 3, **closed}),
        ("probe", {"index": 6, **opened}),
        ("done", done),
    )
    assert "ceiling step 3: 4 users (closed loop) → 130.0 RPS" in lines[0] and lines[0].rstrip().endswith("✓")
    assert "SLA probe 6: open loop 91.0 RPS offered → 91.0 RPS" in lines[1]
    assert "measured: 91.0 RPS within SLA (the ceiling steps' 130.0 RPS was closed loop" in lines[2]
    stepped = _lines(("start", {"mode": "stepped"}), ("probe", {"index": 3, **closed}), ("done", done))
    assert "c01-local-small step 3: 4 users →" in stepped[0]
    assert "ceiling" not in stepped[1]


def test_the_done_line_says_lower_bound_or_not_measured_never_zero() -> None:
    floor = _line(
        "done", sustainable_rps=470.0, generator_limited=True, lower_bound=True, stop_reason="Generator-limited: …"
    )
    assert "measured: at least 470.0 RPS within SLA (lower bound: the load generator was the limit)" in floor
    unknown = _line("done", sustainable_rps=0.0, generator_limited=True, lower_bound=False, stop_reason="saturated")
    assert "not measured: the load generator was the limit — saturated" in unknown
    assert "0.0 RPS" not in unknown
    timed_out = _line("done", sustainable_rps=0.0, generator_limited=False, lower_bound=True, stop_reason="time")
    assert "not measured: the test ended before it found the capacity — time" in timed_out
    floor = _line("done", sustainable_rps=200.0, generator_limited=False, lower_bound=True, stop_reason="time")
    assert "at least 200.0 RPS within SLA (lower bound: the test ended before it found the capacity)" in floor


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
    assert closed.rstrip().endswith("✓") and "ceiling step 2: 4 users (closed loop)" in closed
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


def test_a_knee_probe_is_judged_against_its_own_bound() -> None:
    met = _line(
        "probe",
        index=12,
        kind="open",
        target_rps=180.0,
        rps=179.6,
        p95_ms=150.2,
        error_rate=0.0,
        passed=False,  # over the 100 ms SLA, within the 200 ms bound it was run for
        knee_bound_ms=200.0,
        note="knee probe for p95 ≤ 200 ms: met it",
    )
    assert "knee probe 12: open loop 180.0 RPS offered → 179.6 RPS, p95 150.2 ms" in met
    assert "✓ 200 ms" in met and "✗" not in met and "SLA probe" not in met
    failed = _line(
        "probe",
        index=13,
        kind="open",
        target_rps=200.0,
        rps=170.0,
        p95_ms=900.0,
        error_rate=0.0,
        passed=False,
        knee_bound_ms=200.0,
        note="knee probe for p95 ≤ 200 ms: p95 latency 900.0 ms exceeded the 200 ms bound",
    )
    assert "✗ 200 ms knee probe for p95 ≤ 200 ms: p95 latency 900.0 ms exceeded the 200 ms bound" in failed
