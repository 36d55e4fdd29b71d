"""The HTML report in a real browser: headless Chromium renders every chart with no JavaScript error, offline.

Chromium's ``--dump-dom`` returns the DOM after scripts ran; a small script injected first records any error
(window errors, unhandled rejections, console.error) into an attribute of <html>, so the dump carries it out.
External hosts resolve to nothing, so a report that needed the network would fail here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rightsizing.models.common import LatencyPercentiles
from rightsizing.models.knee import KneeSummary
from rightsizing.models.request import SizingOptions
from rightsizing.models.result import CandidateResult, ProbeRecord, RunResult
from rightsizing.models.targets import LatencySla, TrafficTarget
from rightsizing.pricing import PriceQuote, SnapshotPrices
from rightsizing.recommender import knee_choices, recommend
from rightsizing.report import render_html
from rightsizing.search.knee import KneeRules, knee_curve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
ERROR_PROBE = """<script>(function () {
  var errors = [], root = document.documentElement;
  function record(message) {
    errors.push(String(message));
    root.setAttribute("data-js-errors", JSON.stringify(errors));
  }
  root.setAttribute("data-js-errors", "[]");
  window.addEventListener("error", function (e) {
    record(e.message || "failed to load " + (e.target && e.target.src));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { record("unhandled rejection: " + e.reason); });
  var consoleError = console.error;
  console.error = function () {
    record(Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };
  window.addEventListener("load", function () {
    setTimeout(function () { root.setAttribute("data-js-done", "1"); }, 500);
  });
})();</script>"""


def _candidate(cid: str, itype: str, rps: float) -> CandidateResult:
    return CandidateResult(
        candidate_id=cid,
        instance_type=itype,
        status="succeeded",
        sustainable_rps=rps,
        saturation_rps=rps * 1.1,
        latency_ms=LatencyPercentiles(p50=12, p90=25, p95=31, p99=44),
        error_rate=0.0,
        requests=5000,
        test_seconds=60,
    )


def _trace(rps: float) -> list[ProbeRecord]:
    steps = [(1, 0.3, 9), (2, 0.6, 14), (4, 0.9, 30), (8, 1.0, 48), (16, 1.05, 95)]
    return [
        ProbeRecord(
            index=i,
            users=users,
            seconds=5,
            requests=int(rps * share * 5),
            failures=0,
            rps=rps * share,
            error_rate=0.0,
            latency_ms=LatencyPercentiles(p50=p95 / 2, p90=p95 * 0.8, p95=p95, p99=p95 * 1.3),
            passed=p95 <= 50,
        )
        for i, (users, share, p95) in enumerate(steps)
    ]


def _report(tmp_path: Path) -> Path:
    candidates = [
        _candidate("c01-ml-c5-large", "ml.c5.large", 95),
        _candidate("c02-ml-c5-xlarge", "ml.c5.xlarge", 210),
        _candidate("c03-ml-g4dn-xlarge", "ml.g4dn.xlarge", 420),
    ]
    prices: dict[str, PriceQuote | str] = {
        c.candidate_id: SnapshotPrices().hourly_price(c.instance_type, "us-east-1") for c in candidates
    }
    choice, why_not = recommend(
        candidates, prices, TrafficTarget(min_rps=150, max_rps=600), SizingOptions(), percentile="p95"
    )
    rules = KneeRules(LatencySla(percentile="p95", milliseconds=50), 0.01)
    traces = {c.candidate_id: _trace(c.sustainable_rps or 0) for c in candidates}
    candidates = [
        c.model_copy(update={"knee": knee_curve(traces[c.candidate_id], rules, [25, 50, 100])}) for c in candidates
    ]
    choices = knee_choices(candidates, prices, TrafficTarget(min_rps=150, max_rps=600), [25, 50, 100], 50)
    run = RunResult(
        run_id="browser-test",
        mode="aws",
        region="us-east-1",
        traffic=TrafficTarget(min_rps=150, max_rps=600),
        sla=LatencySla(percentile="p95", milliseconds=50),
        max_error_rate=0.01,
        candidates=candidates,
        recommendation=choice,
        no_recommendation_reason=why_not,
        sizing=SizingOptions(),
        prices={k: v for k, v in prices.items() if isinstance(v, PriceQuote)},
        knee=KneeSummary(percentile="p95", bounds_ms=[25, 50, 100], choices=choices),
    )
    page = render_html(run, traces)
    path = tmp_path / "report.html"
    path.write_text(page.replace('<meta charset="utf-8">', '<meta charset="utf-8">' + ERROR_PROBE, 1))
    return path


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--window-size=1280,4400",
        "--hide-scrollbars",
        "--virtual-time-budget=15000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def test_report_renders_every_chart_without_javascript_errors(tmp_path: Path) -> None:
    report = _report(tmp_path)
    dumped = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert 'data-js-done="1"' in dom, "the page never finished loading"
    errors = json.loads(re.search(r'data-js-errors="([^"]*)"', dom).group(1).replace("&quot;", '"'))  # type: ignore[union-attr]
    assert errors == []
    for chart in ("chart-price-vs-rps", "chart-latency-vs-load", "chart-cost-at-target", "chart-knee"):
        rendered = re.search(rf'<div id="{chart}"[^>]*class="[^"]*js-plotly-plot', dom)
        assert rendered, f"{chart} was not rendered by plotly.js"
    assert dom.count('class="plot-container plotly"') == 4
    assert dom.count('class="main-svg"') >= 8  # plotly draws two SVG layers per chart
    knee = dom[dom.index('id="chart-knee"') :]
    assert "≤ 100 ms:" in knee and 'id="knee-table"' in dom  # the bounds' labels were drawn
    assert dom.count('class="xtick"') > 0 and "ml.c5.xlarge" in dom


def test_report_screenshot_is_saved(tmp_path: Path) -> None:
    report = _report(tmp_path)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    screenshot = OUTPUT / "report.png"
    screenshot.unlink(missing_ok=True)
    shot = _chromium(tmp_path, f"--screenshot={screenshot}", report.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    header = screenshot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")) == (1280, 4400)
    assert screenshot.stat().st_size > 50_000  # a page of charts and tables, not a blank canvas
