"""Distributed-mode worker: ``python -m rightsizing_loadtest.worker``, started by the master (``distributed``).

It reads the same job as the task (JOB_URI, ENDPOINT_URL inherited), builds the same user class and open-loop
pacer, connects to the master (127.0.0.1, or the master task's address when the worker is a Fargate task of its
own) and runs Locust's worker runner: the master spawns its users. On top, it answers the master's measurement
requests (``protocol``). It exits when the master says quit or disappears: a child process watches the master's
pid; a worker task notices the master's missing heartbeats (Locust: 60 s). Either way it exits by the job's
``max_seconds`` plus a grace period at the latest.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
from typing import Any

import gevent
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import WorkerRunner

from rightsizing_loadtest import protocol
from rightsizing_loadtest.endpoint import EndpointConfigError, resolve_target
from rightsizing_loadtest.generator import generator_for
from rightsizing_loadtest.job_io import TaskError, load_job, load_payloads, one_line, read_config
from rightsizing_loadtest.openloop import OpenLoopPacer
from rightsizing_loadtest.recorder import CpuMeter, RequestRecorder
from rightsizing_loadtest.timing import Timing

PARENT_CHECK_SECONDS = 0.5
HARD_BOUND_GRACE_SECONDS = 120.0  # the master's start-up and result upload come on top of the job's search time


class Worker:
    def __init__(self, env: Environment, runner: WorkerRunner, pacer: OpenLoopPacer) -> None:
        self.env, self.runner, self.pacer = env, runner, pacer
        self.recorder = RequestRecorder(env)
        self.cpu = CpuMeter()
        # concurrent: a measurement lasts seconds; the runner must keep receiving (heartbeats, spawn orders).
        runner.register_message(protocol.WINDOW, self._guarded(self._window), concurrent=True)
        runner.register_message(protocol.OPEN_LOOP, self._guarded(self._open_loop), concurrent=True)
        runner.register_message(protocol.FLUSH, self._guarded(self._flush), concurrent=True)

    def _guarded(self, handler: Any) -> Any:
        def run(environment: Environment, msg: Message, **_: object) -> None:
            data = msg.data or {}
            try:
                fields = handler(data)
            except Exception as e:  # the master must hear about it, not wait for a reply that never comes
                fields = {"error": f"{type(e).__name__}: {one_line(e)}"}
            self.runner.send_message(protocol.REPLY, {"id": data.get("id"), **fields, "totals": self._totals()})

        return run

    def _totals(self) -> dict[str, object]:
        return self.recorder.totals.to_wire()

    def _window(self, data: dict[str, Any]) -> dict[str, Any]:
        window = self.recorder.record(float(data["seconds"]), self.cpu)
        return {
            "requests": window.requests,
            "failures": window.failures,
            "latencies_ms": window.latencies_ms,
            "seconds": window.seconds,
            "cpu_percent": window.cpu_percent,
        }

    def _open_loop(self, data: dict[str, Any]) -> dict[str, Any]:
        tally, cpu_percent, _ = self.cpu.around(
            lambda: self.pacer.run(
                float(data["rate"]),
                float(data["settle"]),
                float(data["seconds"]),
                int(data["windows"]),
                float(data["late_ms"]),
                float(data["drain"]),
                phase=float(data["phase"]),
            )
        )
        return {"tally": tally.to_wire(), "cpu_percent": cpu_percent}

    def _flush(self, data: dict[str, Any]) -> dict[str, Any]:
        self.runner._send_stats()  # Locust reports every 3 s; the master writes its CSVs right after this
        return {}


def _exit_with_master(master_pid: int) -> None:
    """A master killed outright (SIGKILL) cannot say quit; Locust's own timeout would leave us running 60 s.
    The master's pid comes from the environment: it may already be gone by the time this process has started."""
    while os.getppid() == master_pid:
        gevent.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def main() -> int:
    index = os.environ.get(protocol.WORKER_INDEX_ENV, "?")
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format=f"%(levelname)s worker {index} %(name)s: %(message)s"
    )
    try:
        host = os.environ.get(protocol.MASTER_HOST_ENV, "").strip() or "127.0.0.1"
        port = int(os.environ.get(protocol.MASTER_PORT_ENV, ""))
        master_pid = os.environ.get(protocol.MASTER_PID_ENV, "").strip()
        if master_pid:
            gevent.spawn(_exit_with_master, int(master_pid))
        job = load_job(read_config())
        # Backstop for a worker that lost its master in a way Locust does not notice: dump stacks and exit 1.
        faulthandler.dump_traceback_later(job.max_seconds + HARD_BOUND_GRACE_SECONDS, exit=True)
        target = resolve_target(job)
        payloads = load_payloads(job.payloads_uri)
    except (ValueError, TaskError, EndpointConfigError) as e:
        message = e.message if isinstance(e, TaskError) else one_line(e)
        print(f"rightsizing-loadtest worker {index}: {message}", file=sys.stderr, flush=True)
        return 1
    user_class, pacer_for = generator_for(job, target, payloads, Timing.for_job(job, 0).request_timeout)
    env = Environment(user_classes=[user_class], host=target.base_url)
    runner = env.create_worker_runner(host, port)
    Worker(env, runner, pacer_for(env))
    runner.greenlet.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
