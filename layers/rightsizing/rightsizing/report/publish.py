"""Read a run's result and traces from the store, write its report and snippet beside result.json."""

from __future__ import annotations

from pydantic import TypeAdapter

from rightsizing.exceptions import StoreError
from rightsizing.models.result import ProbeRecord, RunResult
from rightsizing.report.html import render_html
from rightsizing.report.snippet import endpoint_snippet
from rightsizing.store import ArtifactStore, get_json, join_uri

REPORT_FILE = "report.html"
SNIPPET_FILE = "endpoint-snippet.yaml"
_PROBES = TypeAdapter(list[ProbeRecord])


def load_traces(
    run: RunResult, run_uri: str, store: ArtifactStore, notes: list[str] | None = None
) -> dict[str, list[ProbeRecord]]:
    """Each candidate's probes: ``candidates/<id>/trace.json`` under the run (so a moved run folder still works).

    A candidate that failed before its load test has no trace; one that cannot be read (S3 answers 403 for a
    missing key when the reader may not list the bucket, a truncated file) only costs its chart panel, and is
    described in ``notes`` when given. Never raises for a trace: the report must not fail the run.
    """
    traces: dict[str, list[ProbeRecord]] = {}
    for candidate in run.candidates:
        uri = join_uri(run_uri, "candidates", candidate.candidate_id, "trace.json")
        try:
            if not store.exists(uri):
                continue
            traces[candidate.candidate_id] = _PROBES.validate_python(get_json(uri, store))
        except (StoreError, ValueError) as e:
            if notes is not None:
                notes.append(
                    f"The load-test trace of {candidate.candidate_id} could not be read ({e}); "
                    "its chart panel is left out."
                )
    return traces


def publish_report(
    run: RunResult, run_uri: str, store: ArtifactStore, traces: dict[str, list[ProbeRecord]] | None = None
) -> dict[str, str]:
    """Write report.html and endpoint-snippet.yaml under ``run_uri``; returns name -> URI. ``traces`` default: read
    them from the run folder."""
    snippet = endpoint_snippet(run)
    page = render_html(run, load_traces(run, run_uri, store) if traces is None else traces, snippet)
    report_uri = store.put_bytes(join_uri(run_uri, REPORT_FILE), page.encode(), "text/html; charset=utf-8")
    snippet_uri = store.put_bytes(join_uri(run_uri, SNIPPET_FILE), snippet.encode(), "application/yaml")
    return {"report": report_uri, "snippet": snippet_uri}
