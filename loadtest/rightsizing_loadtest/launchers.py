"""Where distributed-mode workers run. ``DistributedProbe`` asks a launcher to start workers, then waits for them to
connect to its Locust master; the launcher says where the master must listen, reports a worker that ended before
connecting, and stops every worker it started.

- ``ProcessLauncher``: child processes of the master, inside the one load-test task (or on this machine);
- ``ecs_workers.EcsTaskLauncher``: one Fargate task per worker, for loads one task's vCPUs cannot produce.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Protocol

from rightsizing_loadtest import protocol

WORKER_MODULE = "rightsizing_loadtest.worker"
QUIT_TIMEOUT_SECONDS = 5.0


class GeneratorError(RuntimeError):
    """A worker died, never connected or could not measure: the test cannot go on with a partial generator."""


class WorkerLauncher(Protocol):
    bind_host: str  # the address the master listens on (workers connect to it)
    bind_port: int  # 0 = any free port
    connect_timeout: float  # how long a started worker may take to connect

    def start(self, master_port: int, count: int) -> None:
        """Start ``count`` more workers (without waiting for them), or raise ``GeneratorError``."""
        ...

    def failure(self) -> str | None:
        """A started worker that has ended, described; None while they all run. Called while waiting to connect."""
        ...

    def stop(self, at_once: bool = False) -> None:
        """Make sure every started worker has ended: after the master told them to quit, or ``at_once`` when the
        master itself is being stopped."""
        ...


class ProcessLauncher:
    """Workers as child processes on this machine, connecting over loopback; each watches the master's pid."""

    bind_host = "127.0.0.1"
    bind_port = 0
    connect_timeout = 30.0

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, master_port: int, count: int) -> None:
        for _ in range(count):
            env = {
                **os.environ,  # the same job, endpoint and credentials as the master
                protocol.MASTER_HOST_ENV: self.bind_host,
                protocol.MASTER_PORT_ENV: str(master_port),
                protocol.WORKER_INDEX_ENV: str(len(self.processes)),
                protocol.MASTER_PID_ENV: str(os.getpid()),
            }
            # stdout stays the task's JSON progress channel: worker output goes to stderr.
            process = subprocess.Popen([sys.executable, "-m", WORKER_MODULE], env=env, stdout=sys.stderr.fileno())
            self.processes.append(process)

    def failure(self) -> str | None:
        for process in self.processes:
            if process.poll() is not None:
                return f"load-generator worker exited with code {process.returncode} before connecting"
        return None

    def stop(self, at_once: bool = False) -> None:
        if at_once:
            for process in self.processes:
                if process.poll() is None:
                    process.terminate()
        deadline = time.monotonic() + QUIT_TIMEOUT_SECONDS
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
