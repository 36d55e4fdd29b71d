"""Load-generator entry point: ``python -m rightsizing_loadtest.task`` (ECS Fargate container command, local mode).

Environment:
  JOB_URI       required; store URI (file:// or s3://) of a ``LoadTestJob`` JSON document.
  ENDPOINT_URL  optional base URL of a SageMaker-contract server (POST /invocations) on this machine, e.g.
                http://127.0.0.1:8123; only loopback hosts are accepted. Without it, requests go SigV4-signed to
                SageMaker runtime (InvokeEndpoint on job.endpoint_name in job.region) with the default credential
                chain (the ECS task role on Fargate); no credentials is a refusal (exit 2).

Exit codes: 0 measured (also when nothing passed: sustainable_rps 0 is a valid answer), 1 failed (one line on
stderr: unreadable job or payloads, endpoint unreachable for every request, …), 2 refused (configuration).

stdout carries one JSON object per line: ``start``, ``probe`` (one per load step), then ``done`` or ``error``.
Writes to ``job.results_uri``: the Locust CSVs and HTML report, ``trace.json`` (probe records) and, last,
``result.json`` (a ``LoadTestResult``) so that its presence means the test completed.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import User, between
from locust.env import Environment
from pydantic import ValidationError

from rightsizing.exceptions import StoreError
from rightsizing.models.plan import LoadTestJob
from rightsizing.models.result import LoadTestResult, ProbeRecord
from rightsizing.search import SearchOutcome, strategy_for, summarize
from rightsizing.search.ramp import THINK_SECONDS
from rightsizing.store import ArtifactStore, get_json, join_uri, put_json, store_for
from rightsizing_loadtest.driver import LocustProbe, RequestTotals
from rightsizing_loadtest.endpoint import (
    EndpointConfigError,
    Target,
    check_loopback_url,
    invocations_for,
    resolve_target,
    user_class_for,
)
from rightsizing_loadtest.openloop import OpenLoopPacer

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2

CONTENT_TYPES = {".csv": "text/csv", ".html": "text/html", ".json": "application/json"}


class TaskError(Exception):
    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


def emit(event: str, **fields: Any) -> None:
    """One JSON line per event on stdout: the progress channel a caller (local runner, CloudWatch) can parse."""
    print(json.dumps({"event": event, **fields}), flush=True)


def one_line(error: BaseException) -> str:
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


def read_config() -> str:
    """The job URI; a bad ENDPOINT_URL is refused here, before the job is even read (exit 2)."""
    job_uri = os.environ.get("JOB_URI", "").strip()
    if not job_uri:
        raise TaskError(EXIT_REFUSED, "JOB_URI is not set: give the store URI of a LoadTestJob JSON document")
    endpoint_url = os.environ.get("ENDPOINT_URL", "").strip()
    if endpoint_url:
        try:
            check_loopback_url(endpoint_url)
        except EndpointConfigError as e:
            raise TaskError(EXIT_REFUSED, str(e)) from e
    return job_uri


def load_job(job_uri: str) -> LoadTestJob:
    try:
        return LoadTestJob.model_validate(get_json(job_uri))
    except (StoreError, ValidationError, ValueError, OSError) as e:
        raise TaskError(EXIT_FAILED, f"cannot read the load-test job at {job_uri}: {one_line(e)}") from e


def load_payloads(uri: str) -> list[str]:
    try:
        payloads = get_json(uri)
    except (StoreError, ValueError, OSError) as e:
        raise TaskError(EXIT_FAILED, f"cannot read payloads at {uri}: {one_line(e)}") from e
    if not isinstance(payloads, list) or not payloads or not all(isinstance(p, str) for p in payloads):
        raise TaskError(EXIT_FAILED, f"payloads at {uri} must be a non-empty JSON list of strings")
    return payloads


def with_think_time(user_class: type[User]) -> type[User]:
    """The classic baseline's users wait 0.25-0.5 s between requests (and so measure offered load)."""
    return type("ClassicRampUser", (user_class,), {"wait_time": between(*THINK_SECONDS)})


def open_loop_factory(
    target: Target, payloads: list[str], content_type: str, timeout: float
) -> Callable[[Environment], OpenLoopPacer]:
    """The open-loop pacer sends exactly what the users send (same bodies, headers, signatures)."""
    invocations = invocations_for(target, payloads, content_type)
    return lambda env: OpenLoopPacer(
        env,
        invocations.base_url,
        invocations.next_body,
        invocations.headers_for,
        timeout,
        path=invocations.path,
        verify_tls=invocations.signed,
    )


@dataclass(frozen=True)
class Timing:
    """How the job's ``max_seconds`` is split: search budget, hard deadline, and time kept to write results."""

    search_budget: float
    hard_deadline: float
    request_timeout: float
    settle_seconds: float
    drain_seconds: float

    @classmethod
    def for_job(cls, job: LoadTestJob, elapsed: float) -> Timing:
        reserve = min(10.0, max(2.0, 0.1 * job.max_seconds))  # artefact upload + report after the search
        budget = max(0.0, job.max_seconds - elapsed - reserve)
        sla_seconds = job.sla_ms / 1000
        return cls(
            search_budget=budget,
            # The search plans within its budget; this interrupts it if a step overruns (e.g. a slow ramp).
            hard_deadline=budget + reserve / 2,
            # Far past the SLA a request is a failure anyway; a bounded timeout keeps a hung endpoint from
            # pinning users beyond the test.
            request_timeout=min(60.0, max(2.0, 10 * sla_seconds)),
            # Long enough for new users' first requests to finish and queues to form before measuring.
            settle_seconds=min(5.0, max(0.5, job.load.step_seconds / 4, 2 * sla_seconds)),
            # After an open-loop probe, in-flight requests get this long; later ones have failed the SLA anyway.
            drain_seconds=min(5.0, max(1.0, 5 * sla_seconds)),
        )


def probe_event(record: ProbeRecord) -> dict[str, Any]:
    latency = record.latency_ms
    return {
        "index": record.index,
        "kind": record.kind,
        "target_rps": record.target_rps,
        "late_share": record.late_share,
        "valid": record.valid,
        "users": record.users,
        "seconds": record.seconds,
        "requests": record.requests,
        "rps": record.rps,
        **{f"{p}_ms": (round(latency.at(p), 3) if latency else None) for p in ("p50", "p90", "p95", "p99")},
        "error_rate": record.error_rate,
        "generator_cpu_percent": record.generator_cpu_percent,
        "passed": record.passed,
        "note": record.note,
    }


def run_search(
    job: LoadTestJob, target: Target, payloads: list[str], timing: Timing, workdir: Path
) -> tuple[SearchOutcome, RequestTotals, dict[str, Path], float]:
    """Run the job's search against the endpoint; returns outcome, request totals, Locust artefacts, seconds."""
    user_class = user_class_for(target, payloads, job.content_type, timeout_seconds=timing.request_timeout)
    if job.load.mode == "ramp":
        user_class = with_think_time(user_class)
    probe = LocustProbe(
        user_class,
        target.base_url,
        workdir,
        settle_seconds=timing.settle_seconds,
        open_loop=open_loop_factory(target, payloads, job.content_type, timing.request_timeout),
        drain_seconds=timing.drain_seconds,
    )
    strategy = strategy_for(job.load, job.sla_percentile, job.sla_ms, job.max_error_rate)
    records: list[ProbeRecord] = []

    def on_probe(record: ProbeRecord) -> None:
        records.append(record)
        emit("probe", **probe_event(record))

    started = time.monotonic()
    deadline = gevent.Timeout(timing.hard_deadline)
    deadline.start()
    try:
        outcome = strategy.run(probe, timing.search_budget, on_probe=on_probe)
    except gevent.Timeout as timeout:
        if timeout is not deadline:
            raise
        outcome = summarize(
            records,
            f"Hard deadline: a step overran the time budget, so the search was cut off after "
            f"{time.monotonic() - started:.1f} s (the job allows {job.max_seconds} s in all); the step in progress "
            "was discarded.",
        )
    finally:
        deadline.close()
        artifacts = probe.close()
    return outcome, probe.totals, artifacts, time.monotonic() - started


def upload(store: ArtifactStore, results_uri: str, files: dict[str, Path]) -> dict[str, str]:
    uris = {}
    for name, path in files.items():
        if path.is_file():
            uri = join_uri(results_uri, path.name)
            store.put_bytes(uri, path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
            uris[name] = uri
    return uris


def check_reachable(totals: RequestTotals, endpoint_url: str) -> None:
    """An endpoint that never produced an HTTP response is a failed test, not a measured capacity of zero."""
    if totals.requests == 0:
        raise TaskError(EXIT_FAILED, f"no request to {endpoint_url} completed: the endpoint never answered")
    if totals.transport_errors == totals.requests:
        raise TaskError(
            EXIT_FAILED,
            f"endpoint {endpoint_url} unreachable: all {totals.requests} requests failed without an HTTP response "
            f"(last: {totals.last_transport_error})",
        )


def execute(job_uri: str, started: float) -> LoadTestResult:
    job = load_job(job_uri)
    try:
        target = resolve_target(job)  # unsigned to a loopback ENDPOINT_URL, else SigV4 to SageMaker runtime
    except EndpointConfigError as e:
        raise TaskError(EXIT_REFUSED, str(e)) from e
    endpoint_url = target.base_url
    # Backstop for anything the graceful deadline cannot interrupt: dump stacks and exit 1 at max_seconds.
    faulthandler.dump_traceback_later(max(1.0, job.max_seconds - (time.monotonic() - started)), exit=True)
    payloads = load_payloads(job.payloads_uri)
    timing = Timing.for_job(job, time.monotonic() - started)
    emit(
        "start",
        candidate_id=job.candidate_id,
        instance_type=job.instance_type,
        endpoint_url=endpoint_url,
        signed=target.signed,
        mode=job.load.mode,
        budget_seconds=round(timing.search_budget, 1),
        max_seconds=job.max_seconds,
    )
    with tempfile.TemporaryDirectory(prefix="rightsizing-loadtest-") as workdir:
        started_epoch = time.time()  # wall clock: the metrics window endpoint-side (CloudWatch) figures cover
        outcome, totals, files, seconds = run_search(job, target, payloads, timing, Path(workdir))
        store = store_for(job.results_uri)
        artifacts = upload(store, job.results_uri, files)
    trace = [p.model_dump(mode="json") for p in outcome.probes]
    trace_uri = put_json(join_uri(job.results_uri, "trace.json"), trace, store)
    artifacts["trace"] = trace_uri
    if not outcome.probes:  # nothing measured is a failed test, not a capacity of zero
        raise TaskError(EXIT_FAILED, f"no load step was measured: {outcome.stop_reason}")
    check_reachable(totals, endpoint_url)
    result = LoadTestResult(
        candidate_id=job.candidate_id,
        mode=job.load.mode,
        sla_percentile=job.sla_percentile,
        sla_ms=job.sla_ms,
        sustainable_rps=outcome.sustainable_rps,
        saturation_rps=outcome.saturation_rps,
        latency_at_sustainable=outcome.latency_at_sustainable,
        error_rate_at_sustainable=outcome.error_rate_at_sustainable,
        requests=totals.requests,
        failures=totals.failures,
        test_seconds=round(seconds, 3),
        started_epoch=round(started_epoch, 3),
        stop_reason=outcome.stop_reason,
        generator_limited=outcome.generator_limited,
        probes=outcome.probes,
        artifacts=artifacts,
    )
    result_uri = put_json(join_uri(job.results_uri, "result.json"), result.model_dump(mode="json"), store)
    emit(
        "done",
        sustainable_rps=result.sustainable_rps,
        saturation_rps=result.saturation_rps,
        generator_limited=result.generator_limited,
        requests=result.requests,
        failures=result.failures,
        test_seconds=result.test_seconds,
        stop_reason=result.stop_reason,
        result_uri=result_uri,
    )
    return result


def main() -> int:
    # max_seconds bounds the whole process, so count from its creation (importing Locust alone takes ~1 s).
    # Clamped: a skewed wall clock must not eat the budget.
    started = time.monotonic() - min(30.0, max(0.0, time.time() - psutil.Process().create_time()))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        job_uri = read_config()
        execute(job_uri, started)
    except TaskError as e:
        return fail(e.exit_code, e.message)
    except Exception as e:  # any other failure must still end in one clear line and a non-zero exit
        return fail(EXIT_FAILED, f"load test failed: {type(e).__name__}: {one_line(e)}")
    finally:
        faulthandler.cancel_dump_traceback_later()
    return EXIT_OK


def fail(exit_code: int, message: str) -> int:
    emit("error", exit_code=exit_code, message=message)
    print(f"rightsizing-loadtest: {message}", file=sys.stderr, flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
