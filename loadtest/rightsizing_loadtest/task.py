"""Load-generator entry point: ``python -m rightsizing_loadtest.task`` (ECS Fargate container command, local mode).

Environment:
  JOB_URI       required; store URI (file:// or s3://) of a ``LoadTestJob`` JSON document.
  ENDPOINT_URL  optional base URL of a SageMaker-contract server (POST /invocations) on this machine, e.g.
                http://127.0.0.1:8123; only loopback hosts are accepted. Without it, requests go SigV4-signed to
                SageMaker runtime (InvokeEndpoint on job.endpoint_name in job.region) with the default credential
                chain (the ECS task role on Fargate); no credentials is a refusal (exit 2).

With ``load.workers``/``max_workers`` above 1 the task is Locust's master and starts its workers as child
processes (``python -m rightsizing_loadtest.worker``, same environment); see ``distributed``.

Exit codes: 0 measured (also when nothing passed: sustainable_rps 0 is a valid answer; a generator-limited figure is
``lower_bound``), 1 failed (one line on
stderr: unreadable job or payloads, endpoint unreachable for every request, …), 2 refused (configuration).

stdout carries one JSON object per line: ``start``, ``probe`` (one per load step), then ``done`` or ``error``.
Writes to ``job.results_uri``: the Locust CSVs and HTML report, ``trace.json`` (probe records) and, last,
``result.json`` (a ``LoadTestResult``) so that its presence means the test completed.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import psutil

from rightsizing.adapters.s3 import UriStore
from rightsizing.models.knee import knee_bounds
from rightsizing.models.plan import LoadTestJob
from rightsizing.models.result import LOAD_TEST_FAILURE_FILE, LoadTestResult, ProbeRecord
from rightsizing.search import SearchOutcome
from rightsizing.search.knee import KneeProbing, KneeRules, MainAnswer
from rightsizing.store import join_uri, put_json
from rightsizing_loadtest.cold_start import measure_cold_start
from rightsizing_loadtest.cpus import available_cpus
from rightsizing_loadtest.distributed import DistributedProbe
from rightsizing_loadtest.driver import LocustProbe
from rightsizing_loadtest.ecs_workers import WorkerTasksUnavailable, ecs_launcher
from rightsizing_loadtest.endpoint import EndpointConfigError, Target, invocations_for, resolve_target
from rightsizing_loadtest.generator import generator_for
from rightsizing_loadtest.job_io import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    TaskError,
    emit,
    load_job,
    load_payloads,
    one_line,
    read_config,
    upload,
)
from rightsizing_loadtest.launchers import ProcessLauncher, WorkerLauncher
from rightsizing_loadtest.recorder import RequestTotals
from rightsizing_loadtest.timing import Timing
from rightsizing_loadtest.trials import run_trials

# The result's headline figures, repeated in the ``done`` event (the full result is at ``result_uri``).
DONE_FIELDS = (
    "sustainable_rps",
    "saturation_rps",
    "generator_limited",
    "lower_bound",
    "requests",
    "failures",
    "test_seconds",
    "stop_reason",
)

# Refused connections in a row, after the endpoint had answered, that mean it is gone: a few can be a restart.
LOST_AFTER_REFUSALS = 20

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_REFUSED", "TaskError", "Timing", "execute", "main"]


def make_probe(
    job: LoadTestJob,
    target: Target,
    payloads: list[bytes],
    timing: Timing,
    workdir: Path,
    launcher: WorkerLauncher | None = None,
) -> LocustProbe | DistributedProbe:
    """In-process Locust, or a master with workers (child processes, or Fargate tasks of their own) when the job
    allows more than one generator process."""
    user_class, pacer_for = generator_for(job, target, payloads, timing.request_timeout)
    load = job.load
    if not load.distributed:
        return LocustProbe(
            user_class,
            target.base_url,
            workdir,
            settle_seconds=timing.settle_seconds,
            open_settle_seconds=timing.open_settle_seconds,
            open_loop=pacer_for,
            drain_seconds=timing.drain_seconds,
        )
    if load.max_workers == "auto":
        max_workers = max(load.workers, available_cpus())
    else:
        max_workers = load.max_workers or load.workers
    return DistributedProbe(
        user_class,
        target.base_url,
        workdir,
        workers=load.workers,
        max_workers=max_workers,
        settle_seconds=timing.settle_seconds,
        drain_seconds=timing.drain_seconds,
        launcher=launcher or worker_launcher(job, target),
        on_worker_added=lambda count: emit("generator", workers=count, max_workers=max_workers),
    )


def worker_launcher(job: LoadTestJob, target: Target) -> WorkerLauncher:
    """Child processes, or (``worker_placement: tasks``) one Fargate task per worker; refused (exit 2) before
    anything starts when worker tasks cannot run here."""
    if job.load.worker_placement == "processes":
        return ProcessLauncher()
    if not target.signed:
        raise TaskError(
            EXIT_REFUSED,
            "load.worker_placement 'tasks' runs workers as Fargate tasks, which cannot reach a loopback "
            "ENDPOINT_URL: use 'processes' for a local endpoint",
        )
    try:
        return ecs_launcher(job, os.environ["JOB_URI"], os.environ)
    except WorkerTasksUnavailable as e:
        raise TaskError(EXIT_REFUSED, str(e)) from e


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
        "generators": record.generators,
        "remeasured": record.remeasured,
        "trial": record.trial,
        "knee_bound_ms": record.knee_bound_ms,
    }


def run_search(
    job: LoadTestJob, target: Target, payloads: list[bytes], workdir: Path, task_started: float
) -> tuple[SearchOutcome, RequestTotals, dict[str, Path], float]:
    """Run the job's search against the endpoint; returns outcome, request totals, Locust artefacts, seconds."""
    launcher = worker_launcher(job, target) if job.load.distributed else None
    # SIGTERM (ECS StopTask on a timeout or an aborted run; a local run's Ctrl-C) from here on: workers must not
    # outlive this task, worker tasks least of all.
    stop_handler = gevent.signal_handler(signal.SIGTERM, stopped, launcher) if launcher else None
    try:
        probe = make_probe(
            job, target, payloads, Timing.for_job(job, time.monotonic() - task_started), workdir, launcher
        )
    except BaseException:
        if stop_handler is not None:
            stop_handler.cancel()
        raise
    # Starting workers takes seconds (processes) to minutes (Fargate tasks): the search gets what is left.
    timing = Timing.for_job(job, time.monotonic() - task_started)

    def on_probe(record: ProbeRecord) -> None:
        emit("probe", **probe_event(record))

    started = time.monotonic()
    try:
        outcome = run_trials(job, probe, timing, on_probe)
        add_knee_probes(job, probe, outcome, timing, timing.search_budget - (time.monotonic() - started), on_probe)
    finally:
        try:
            artifacts = probe.close()
        finally:
            if stop_handler is not None:
                stop_handler.cancel()
    return outcome, probe.totals, artifacts, time.monotonic() - started


def add_knee_probes(
    job: LoadTestJob,
    probe: LocustProbe | DistributedProbe,
    outcome: SearchOutcome,
    timing: Timing,
    left: float,
    on_probe: Callable[[ProbeRecord], None],
) -> None:
    """After the answer, in the time left, the knee curve's extra probes (``knee_probing``) join the outcome's
    probes; a probe the hard deadline cuts off is dropped, the answer is settled either way."""
    knee = knee_probing(job, outcome)
    if knee is None or left <= 0:
        return
    added: list[ProbeRecord] = []

    def seen(record: ProbeRecord) -> None:
        added.append(record)
        on_probe(record)

    deadline = gevent.Timeout(left + timing.hard_deadline - timing.search_budget)
    deadline.start()
    try:
        knee.run(probe, outcome.probes, left, on_probe=seen)
    except gevent.Timeout as timeout:
        if timeout is not deadline:
            raise
    finally:
        deadline.close()
        outcome.probes += added


def knee_probing(job: LoadTestJob, outcome: SearchOutcome) -> KneeProbing | None:
    """The knee curve's extra open-loop probes, or None when the job allows none: adaptive mode only (other modes'
    curves are their closed-loop steps), one trial only (an added probe would belong to no trial), and only when
    the search certified a rate (a bound can hardly be certified where the SLA could not)."""
    knee, load = job.knee, job.load
    probes = knee.probes(load.trials) if knee is not None else 0
    if probes == 0 or load.mode != "adaptive":
        return None
    if outcome.lower_bound and not outcome.sustainable_rps:
        return None
    return KneeProbing(
        KneeRules(job.sla, job.max_error_rate, load.precision),
        knee_bounds(job.sla, knee, job.max_seconds),
        probes,
        answer=MainAnswer(outcome.sustainable_rps, outcome.lower_bound),
        min_completions=load.min_completions,
        min_probe_seconds=load.min_probe_seconds,
        max_probe_seconds=load.max_probe_seconds,
        fail_fast=load.fail_fast,
    )


def stopped(launcher: WorkerLauncher) -> None:
    """On SIGTERM: stop the workers (StopTask for worker tasks), then exit at once; artefacts are not written."""
    print("rightsizing-loadtest: stopped (SIGTERM); stopping the load-generator workers", file=sys.stderr, flush=True)
    try:
        launcher.stop(at_once=True)
    finally:
        os._exit(EXIT_FAILED)


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


def check_still_answering(totals: RequestTotals, endpoint_url: str) -> None:
    """An endpoint that went away mid-test (its server died): the figures measured before are no capacity."""
    refused = totals.refused_since_answer
    if refused >= LOST_AFTER_REFUSALS:
        raise TaskError(
            EXIT_FAILED,
            f"endpoint {endpoint_url} stopped answering mid-test: the last {refused} requests were refused "
            f"(nothing listens there any more; last: {totals.last_transport_error}), so no capacity is reported",
        )


def execute(job_uri: str, started: float) -> LoadTestResult:
    job = load_job(job_uri)
    try:
        return measure(job, started)
    except TaskError as e:
        record_failure(job, e.message)
        raise
    except Exception as e:
        record_failure(job, f"load test failed: {type(e).__name__}: {one_line(e)}")
        raise


def record_failure(job: LoadTestJob, message: str) -> None:
    """Leave why the test failed beside its artefacts (``error.json``): the state machine only sees the exit code,
    and the CollectMetrics step puts this message in the candidate's failure reason. Best effort."""
    try:
        put_json(join_uri(job.results_uri, LOAD_TEST_FAILURE_FILE), {"message": message}, UriStore())
    except Exception as e:  # the exit code and stderr still say it
        print(f"rightsizing-loadtest: could not record the failure: {one_line(e)}", file=sys.stderr, flush=True)


def measure(job: LoadTestJob, started: float) -> LoadTestResult:
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
        workers=job.load.workers,
        max_workers=job.load.max_workers,
        budget_seconds=round(timing.search_budget, 1),
        max_seconds=job.max_seconds,
    )
    cold_start = None
    if job.serverless_max_concurrency is not None:  # before any other request: the endpoint is fresh
        invocations = invocations_for(target, payloads, job.content_type)
        cold_start = measure_cold_start(invocations, timing.request_timeout)
        emit("cold_start", **cold_start.model_dump(mode="json"))
    with tempfile.TemporaryDirectory(prefix="rightsizing-loadtest-") as workdir:
        started_epoch = time.time()  # wall clock: the metrics window endpoint-side (CloudWatch) figures cover
        outcome, totals, files, seconds = run_search(job, target, payloads, Path(workdir), started)
        store = UriStore()
        artifacts = upload(store, job.results_uri, files)
    trace = [p.model_dump(mode="json") for p in outcome.probes]
    trace_uri = put_json(join_uri(job.results_uri, "trace.json"), trace, store)
    artifacts["trace"] = trace_uri
    if not outcome.probes:  # nothing measured is a failed test, not a capacity of zero
        raise TaskError(EXIT_FAILED, f"no load step was measured: {outcome.stop_reason}")
    check_reachable(totals, endpoint_url)
    check_still_answering(totals, endpoint_url)
    result = LoadTestResult(
        candidate_id=job.candidate_id,
        mode=job.load.mode,
        sla=job.sla,
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
        lower_bound=outcome.lower_bound,
        cold_start=cold_start,
        trials=outcome.trials,
        probes=outcome.probes,
        artifacts=artifacts,
    )
    result_uri = put_json(join_uri(job.results_uri, "result.json"), result.model_dump(mode="json"), store)
    emit(
        "done",
        **result.model_dump(mode="json", include=set(DONE_FIELDS)),
        **trial_fields(result),
        result_uri=result_uri,
    )
    return result


def trial_fields(result: LoadTestResult) -> dict[str, Any]:
    """The trials' interval and spread for the ``done`` event, when there were trials."""
    stats = result.trials
    if stats is None:
        return {}
    return stats.model_dump(mode="json", exclude={"trials", "note", "lower_bound"}) | {
        "trials_lower_bound": stats.lower_bound
    }


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
