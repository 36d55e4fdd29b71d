"""Repeated trials in the outputs: the report's section, the CSV's columns and the one-line summary (pure)."""

from __future__ import annotations

from html import escape

from rightsizing.models.result import CandidateResult, RunResult
from rightsizing.models.trials import TrialStats

# Appended to results.csv's columns; empty for a candidate measured once.
TRIAL_CSV_COLUMNS = [
    "trials",
    "trials_measured",
    "sustainable_rps_mean",
    "sustainable_rps_std",
    "ci95_low_rps",
    "ci95_high_rps",
    "trial_min_rps",
    "trial_max_rps",
    "trial_rps",
]


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def interval_text(stats: TrialStats) -> str:
    """``[380.2, 412.9]``, or '' when there is no interval (fewer than 2 measured trials)."""
    if not stats.has_interval:
        return ""
    return f"[{_num(stats.ci95_low_rps)}, {_num(stats.ci95_high_rps)}]"  # a comma: the low end may be negative


def summary_line(c: CandidateResult) -> str | None:
    """``3 of 3 trials: mean 402.1 RPS, 95 % interval [380.2, 412.9], spread 391.0-410.5 (std 9.8)``, or None."""
    stats = c.trials
    if stats is None:
        return None
    if stats.mean_rps is None:
        return f"{stats.requested} trials: {stats.note}"
    floor = "≥ " if stats.lower_bound else ""
    head = f"{stats.measured} of {stats.requested} trials: mean {floor}{_num(stats.mean_rps)} RPS"
    if not stats.has_interval:
        return f"{head}; no interval (one measured trial)"
    return (
        f"{head}, 95 % interval {interval_text(stats)}, spread {_num(stats.min_rps)}–{_num(stats.max_rps)} "
        f"(std {_num(stats.std_rps)})" + (" — figures are lower bounds" if stats.lower_bound else "")
    )


def trial_csv_cells(c: CandidateResult) -> dict[str, object]:
    stats = c.trials
    if stats is None:
        return dict.fromkeys(TRIAL_CSV_COLUMNS)
    return {
        "trials": stats.requested,
        "trials_measured": stats.measured,
        "sustainable_rps_mean": stats.mean_rps,
        "sustainable_rps_std": stats.std_rps,
        "ci95_low_rps": stats.ci95_low_rps,
        "ci95_high_rps": stats.ci95_high_rps,
        "trial_min_rps": stats.min_rps,
        "trial_max_rps": stats.max_rps,
        # Each trial's figure in order; a floor is marked ">=" (as "≥" elsewhere), a trial that certified nothing "-".
        "trial_rps": ";".join(
            (">=" if f.lower_bound else "") + f"{f.sustainable_rps:g}" if f.measured else "-" for f in stats.trials
        ),
    }


def trials_section(run: RunResult) -> str:
    """The report's "Repeated trials" section, or '' when no candidate was measured more than once."""
    rows = [c for c in run.candidates if c.trials is not None]
    if not rows:
        return ""
    sized_on = run.sizing.size_on if run.sizing else "mean"
    headers = ["candidate", "trials", "mean RPS [95 % interval]", "spread (min–max)", "std", "each trial (RPS)"]
    body = ""
    for c in rows:
        stats = c.trials
        assert stats is not None
        floor = "≥ " if stats.lower_bound else ""
        mean = f"{floor}{_num(stats.mean_rps)} {interval_text(stats)}".strip() if stats.mean_rps is not None else "—"
        each = ", ".join(
            ("≥ " if f.lower_bound else "") + _num(f.sustainable_rps) if f.measured else "not measured"
            for f in stats.trials
        )
        cells = [
            escape(c.candidate_id),
            f"{stats.measured} of {stats.requested}",
            mean,
            f"{_num(stats.min_rps)}–{_num(stats.max_rps)}" if stats.min_rps is not None else "—",
            _num(stats.std_rps),
            escape(each),
        ]
        body += "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    notes = "".join(
        f"<li>{escape(c.candidate_id)}: {escape(c.trials.note)}</li>" for c in rows if c.trials and c.trials.note
    )
    sizing = (
        "The fleet is sized on each candidate's <strong>lower end of the 95 % interval</strong> (sizing.size_on "
        "lower_bound)."
        if sized_on == "lower_bound"
        else "The fleet is sized on each candidate's <strong>mean</strong> (sizing.size_on mean); "
        "size_on lower_bound sizes on the interval's lower end instead."
    )
    return (
        '<h2 id="trials">Repeated trials</h2>'
        "<p>Each candidate's capacity search ran several times against the same endpoint. The figure is the mean; "
        "the interval is Student's t at 95 % over the trials, so it covers trial-to-trial variation, not a bias "
        f"every trial shares. {sizing}</p>"
        f'<table class="trials"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f'<ul class="trial-notes">{notes}</ul>'
    )
