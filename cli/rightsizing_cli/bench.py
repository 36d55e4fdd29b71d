"""``rightsize bench URL``: size a container before paying for endpoints.

Runs the same load-test entry point (and search) the pipeline uses against any server on this machine that follows
the SageMaker inference contract (``GET /ping``, ``POST /invocations``) — e.g. a model container started locally.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rightsizing.models.messages import invalid_request
from rightsizing.models.plan import LoadTestJob
from rightsizing.models.request import MIN_TRIAL_SECONDS, LoadSettings
from rightsizing.models.result import LoadTestResult
from rightsizing.models.targets import LatencySla
from rightsizing.payload_bodies import Body, payloads_document
from rightsizing.store import LocalStore, get_json, local_uri, put_json
from rightsizing_cli.emit import LOCAL_EXTRA, Output, OutputFormat, OutputOption
from rightsizing_cli.exit_codes import ExitCode
from rightsizing_cli.progress import ProgressPrinter


def parse_sla(text: str) -> LatencySla:
    """``p95:100ms`` with the request's own percentiles and bounds (``LatencySla``)."""
    try:
        return LatencySla.parse(text)
    except ValueError as e:  # pydantic's ValidationError included
        raise typer.BadParameter(_one_line(e)) from None


def bench(
    url: Annotated[str, typer.Argument(help="Base URL of a local server, e.g. http://127.0.0.1:8080")],
    sla: Annotated[str, typer.Option(help="Latency SLA as <percentile>:<ms>ms")] = "p95:100ms",
    payload: Annotated[list[str], typer.Option(help="Request body (repeatable); @FILE reads a file")] = [],  # noqa: B006
    content_type: Annotated[str, typer.Option(help="Content-Type of the bodies")] = "text/csv",
    mode: Annotated[str, typer.Option(help="adaptive, ramp, stepped or phases")] = "adaptive",
    workers: Annotated[int, typer.Option(help="Load-generator processes to start with (Locust workers)")] = 1,
    max_workers: Annotated[
        str | None,
        typer.Option(help="Add workers up to this many when the generator saturates; 'auto' = CPUs here"),
    ] = None,
    max_seconds: Annotated[int, typer.Option(help="Hard bound on the test (all trials together)")] = 180,
    trials: Annotated[
        int, typer.Option(help="Run the search this many times (1-10): mean, 95 % interval and spread")
    ] = 1,
    confirm_seconds: Annotated[
        float, typer.Option(help="Adaptive: re-measure the answer with one probe this long, e.g. 20 (0 = off)")
    ] = LoadSettings.model_fields["confirm_seconds"].default,
    max_error_rate: Annotated[float, typer.Option(help="Largest failed share that still passes")] = 0.01,
    directory: Annotated[Path, typer.Option("--dir", "-o", help="Artefact folder")] = Path("rightsizing-runs/bench"),
    output: OutputOption = OutputFormat.text,
) -> None:
    """Find the highest request rate a local SageMaker-contract server sustains within the SLA."""
    out = Output(output)
    console = out.console
    if importlib.util.find_spec("locust") is None:  # the load generator runs in its own process: say it here
        out.fail(LOCAL_EXTRA, ExitCode.INVALID)
    latency_sla = parse_sla(sla)
    store = LocalStore()
    bodies = [_read_body(p) for p in payload] or [b"0"]
    run_dir = (directory / time.strftime("%Y%m%d-%H%M%S")).resolve()
    try:
        load = LoadSettings(
            mode=mode,
            workers=workers,
            max_workers=max_workers if max_workers in (None, "auto") else _count(max_workers, "--max-workers"),
            confirm_seconds=confirm_seconds,
            trials=trials,
        )
    except ValueError as e:
        hint = "--mode/--workers/--max-workers/--confirm-seconds/--trials"
        raise typer.BadParameter(_one_line(e), param_hint=hint) from None
    if max_seconds / trials < MIN_TRIAL_SECONDS:
        raise typer.BadParameter(
            f"{trials} trials share --max-seconds {max_seconds}: each needs at least {MIN_TRIAL_SECONDS} s",
            param_hint="--trials",
        )
    job = LoadTestJob(
        run_id="bench",
        candidate_id="bench",
        instance_type="local.bench",
        endpoint_name="bench",
        region="us-east-1",
        content_type=content_type,
        payloads_uri=put_json(
            local_uri(run_dir / "payloads.json"),
            payloads_document([Body("--payload", f"--payload {i + 1}", b) for i, b in enumerate(bodies)], content_type),
            store,
        ),
        sla=latency_sla,
        max_error_rate=max_error_rate,
        load=load,
        max_seconds=max_seconds,
        results_uri=local_uri(run_dir),
    )
    job_uri = put_json(local_uri(run_dir / "job.json"), job.model_dump(mode="json"), store)
    repeated = f" × {trials} trials" if trials > 1 else ""
    console.print(f"[bold]bench[/] {escape(url)}: {mode} search{repeated}, SLA {latency_sla}, at most {max_seconds} s")
    code = _run_task(job_uri, url, ProgressPrinter(console, {}, latency_sla))
    result_path = run_dir / "result.json"
    if code != 0 or not result_path.exists():
        out.fail(f"the load test failed (exit {code}); see the messages above", ExitCode.FAILED)
    result = LoadTestResult.model_validate(get_json(local_uri(result_path), store))
    out.document({"folder": run_dir, "result": result})
    if not out.is_json:
        _print_result(console, result, run_dir)


def _count(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}': expected a whole number or 'auto'", param_hint=option) from None


def _one_line(error: ValueError) -> str:
    """pydantic's multi-line report as one line per field: '<field>: <message>'."""
    if isinstance(error, ValidationError):
        return invalid_request(error).details
    return str(error)


def _read_body(value: str) -> bytes:
    """An inline body, or ``@FILE``'s bytes (an image or array is sent unchanged)."""
    if not value.startswith("@"):
        return value.encode()
    path = Path(value[1:])
    if not path.is_file():
        raise typer.BadParameter(f"payload file '{path}' not found", param_hint="--payload")
    return path.read_bytes()


def _run_task(job_uri: str, url: str, progress: ProgressPrinter) -> int:
    """The load-test entry point in its own process (Locust patches its process with gevent)."""
    env = {**os.environ, "JOB_URI": job_uri, "ENDPOINT_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "rightsizing_loadtest.task"], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            event = _json_line(line)
            if event is not None:
                progress("bench", str(event.get("event")), line)
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(10)
        raise


def _json_line(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _print_trials(console: Console, result: LoadTestResult) -> None:
    """Each trial's figure, then their mean, 95 % interval and spread."""
    stats = result.trials
    if stats is None:
        return
    each = ", ".join(
        f"#{f.trial} "
        + (("≥ " if f.lower_bound else "") + f"{f.sustainable_rps:.1f}" if f.measured else "not measured")
        for f in stats.trials
    )
    console.print(f"trials (RPS within SLA): {escape(each)}")
    if stats.mean_rps is None:
        console.print(f"[yellow]{escape(stats.note)}[/]")
        return
    floor = "≥ " if stats.lower_bound else ""
    if stats.has_interval:
        console.print(
            f"[bold]mean {floor}{stats.mean_rps:.1f} RPS, 95 % interval [{stats.ci95_low_rps:.1f}, "
            f"{stats.ci95_high_rps:.1f}][/], spread {stats.min_rps:.1f}–{stats.max_rps:.1f}, std {stats.std_rps:.1f} "
            f"({stats.measured} of {stats.requested} trials)"
        )
    else:
        console.print(f"mean {floor}{stats.mean_rps:.1f} RPS: {escape(stats.note)}")


def _print_result(console: Console, result: LoadTestResult, run_dir: Path) -> None:
    table = Table(title=f"bench result ({result.mode}, SLA {result.sla})")
    for column in ("RPS within SLA", "max RPS", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "errors %", "test s"):
        table.add_column(column, justify="right")
    lat = result.latency_at_sustainable
    table.add_row(
        f"≥ {result.sustainable_rps:.1f}" if result.lower_bound else f"{result.sustainable_rps:.1f}",
        f"{result.saturation_rps:.1f}",
        *(f"{getattr(lat, p):.1f}" if lat else "—" for p in ("p50", "p90", "p95", "p99")),
        f"{100 * (result.error_rate_at_sustainable or 0):.2f}",
        f"{result.test_seconds:.0f}",
    )
    console.print(table)
    console.print(f"why it stopped: {escape(result.stop_reason)}")
    _print_trials(console, result)
    if result.lower_bound:
        console.print(
            f"[yellow]lower bound[/]: the test ended before it found the capacity; the server sustains at least "
            f"{result.sustainable_rps:.1f} RPS within the SLA (more generator processes: --max-workers; more time: "
            "--max-seconds)"
        )
    elif result.generator_limited:
        console.print("[yellow]The load generator was the limit: the server may sustain more than measured.[/]")
    console.print(f"Artefacts: {escape(str(run_dir))} (result.json, trace.json, locust_*.csv, locust_report.html)")
