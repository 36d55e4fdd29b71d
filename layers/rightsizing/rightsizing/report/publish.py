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


def load_traces(run: RunResult, run_uri: str, store: ArtifactStore) -> dict[str, list[ProbeRecord]]:
    """Each candidate's probes: ``candidates/<id>/trace.json`` under the run (so a moved run folder still works)."""
    traces: dict[str, list[ProbeRecord]] = {}
    for candidate in run.candidates:
        uri = join_uri(run_uri, "candidates", candidate.candidate_id, "trace.json")
        if not store.exists(uri):
            continue  # a candidate that failed before its load test has no trace
        try:
            traces[candidate.candidate_id] = _PROBES.validate_python(get_json(uri, store))
        except (StoreError, ValueError):
            continue  # an unreadable trace only costs its chart panel
    return traces


def publish_report(run: RunResult, run_uri: str, store: ArtifactStore) -> dict[str, str]:
    """Write report.html and endpoint-snippet.yaml under ``run_uri``; returns name -> URI."""
    snippet = endpoint_snippet(run)
    page = render_html(run, load_traces(run, run_uri, store), snippet)
    report_uri = store.put_bytes(join_uri(run_uri, REPORT_FILE), page.encode(), "text/html; charset=utf-8")
    snippet_uri = store.put_bytes(join_uri(run_uri, SNIPPET_FILE), snippet.encode(), "application/yaml")
    return {"report": report_uri, "snippet": snippet_uri}
