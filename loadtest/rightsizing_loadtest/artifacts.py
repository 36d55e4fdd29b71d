"""Locust's own artefacts for the whole test: CSVs (with full history) and the HTML report.

They run beside the users for the whole test in whichever process holds the aggregate stats: the in-process
runner, or the master in distributed mode (workers report their stats to it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.html import get_html_report
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

LOCUST_CSV_PREFIX = "locust"
LOCUST_ARTIFACTS = {
    "locust_stats": "locust_stats.csv",
    "locust_stats_history": "locust_stats_history.csv",
    "locust_failures": "locust_failures.csv",
    "locust_exceptions": "locust_exceptions.csv",
    "locust_report": "locust_report.html",
}


class _FinalCSVWriter(StatsCSVFileWriter):
    """Locust rewrites its CSVs once a second and never writes a last snapshot; ``finish`` does, then closes."""

    def finish(self) -> None:
        for handle, writer, write in (
            (self.requests_csv_filehandle, self.requests_csv_writer, self.requests_csv),
            (self.failures_csv_filehandle, self.failures_csv_writer, self.failures_csv),
            (self.exceptions_csv_filehandle, self.exceptions_csv_writer, self.exceptions_csv),
        ):
            handle.seek(0)
            handle.truncate()
            write(writer)  # header + rows
        if self.stats_history_csv_filehandle.tell() == 0:  # the periodic writer never got to run
            self.stats_history_csv_writer.writerow(self.stats_history_csv_columns)
        # One last timestamped row so the history ends where the test ended.
        self._stats_history_data_rows(self.stats_history_csv_writer, time.time())
        self.close_files()


class LocustArtifacts:
    def __init__(self, env: Environment, artifacts_dir: Path) -> None:
        assert env.runner is not None, "create the runner first"
        self.env = env
        self.artifacts_dir = artifacts_dir
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        prefix = str(artifacts_dir / LOCUST_CSV_PREFIX)
        self._csv = _FinalCSVWriter(env, PERCENTILES_TO_REPORT, prefix, full_history=True)
        # The CSV writer and the history sampler (charts of the HTML report).
        self._background = [gevent.spawn(self._csv.stats_writer), gevent.spawn(stats_history, env.runner)]

    def finish(self) -> None:
        """Stop the writers and write the final CSVs; call before the runner quits (the last history row still
        shows the user count)."""
        gevent.killall(self._background, block=True, timeout=5)
        self._csv.finish()

    def write_report(self) -> dict[str, Path]:
        render: Any = get_html_report  # untyped in Locust
        html = str(render(self.env, show_download_link=False))
        (self.artifacts_dir / LOCUST_ARTIFACTS["locust_report"]).write_text(html, encoding="utf-8")
        return {name: self.artifacts_dir / filename for name, filename in LOCUST_ARTIFACTS.items()}
