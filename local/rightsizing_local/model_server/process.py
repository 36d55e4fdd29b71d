"""Run the model server as a real HTTP server: gunicorn (sync workers, ``--preload``) in its own process group.

Design points:

* The port is reserved by binding a socket here and handing its file descriptor to gunicorn (``--bind fd://N``),
  so there is no window in which another process can take a "free" port between picking and binding it.
* Only 127.0.0.1 is bound: the server is a benchmark target, never exposed.
* The server runs in a new session: ``stop()`` signals the whole process group (master and workers), and a Ctrl-C
  in the parent's terminal reaches only the parent, which is then responsible for calling ``stop()``.
* ``cpus`` pins master and workers (affinity is inherited across fork/exec) so a benchmark can give the server and
  the load generator disjoint cores, as on a real endpoint whose instance is not shared with its clients.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
APP_SPEC = "rightsizing_local.model_server.app:create_app()"
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
_LOG_TAIL_LINES = 40

# Explicitly no proxy: an http_proxy in the environment must not capture requests to 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class ServerProcess:
    """A running gunicorn model server; the master's pid is also its process group id."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int = 1  # effective worker count (after SAGEMAKER_MODEL_SERVER_WORKERS), awaited by wait_ready

    def worker_pids(self) -> list[int]:
        """Live worker processes (children of the master), read from /proc; e.g. to sample their CPU time."""
        return _live_children(self.process.pid)

    def is_ready(self, timeout: float = 0.5) -> bool:
        """True when ``GET /ping`` answers 200."""
        try:
            with _opener.open(f"{self.url}/ping", timeout=timeout) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):  # refused, reset, timed out, 503...
            return False

    def exit_code(self) -> int | None:
        """The master's exit code, or None while it runs."""
        return self.process.poll()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop master and workers: SIGTERM to the process group, SIGKILL what is left after ``timeout``. Idempotent."""
        pgid = self.process.pid
        if not _group_alive(pgid):
            self.process.poll()  # reap the master if it exited on its own
            return
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        if not _wait_group_gone(self.process, deadline):
            _signal_group(pgid, signal.SIGKILL)
            _wait_group_gone(self.process, time.monotonic() + 5.0)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Last ``lines`` lines of the server log (gunicorn's error log plus anything printed to stdout/stderr)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def start_server(
    model_path: Path,
    workers: int,
    cpus: list[int] | None = None,
    environment: dict[str, str] | None = None,
    log_path: Path | None = None,
    threads: int = 1,
) -> ServerProcess:
    """Start gunicorn serving ``model_path`` on a free 127.0.0.1 port; returns at once (see ``wait_ready``).

    ``environment`` is added to the server's environment, like a SageMaker model's container Environment;
    ``SAGEMAKER_MODEL_SERVER_WORKERS`` and ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` in it override ``workers`` and the
    worker timeout. A missing model is not checked here: the server fails at start-up and ``wait_ready`` says why.
    ``threads`` > 1 runs gthread workers, each taking that many requests at once (a serverless endpoint must accept
    requests beyond its concurrency to refuse them, not queue them).
    """
    extra = dict(environment or {})
    workers = _int_setting(extra, WORKERS_ENV, workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    timeout = _int_setting(extra, TIMEOUT_ENV, 60)

    env = {**os.environ, **extra, "MODEL_PATH": str(Path(model_path).resolve()), "PYTHONUNBUFFERED": "1"}
    # One thread per worker: parallelism comes from worker processes, not from BLAS/OpenMP pools inside each.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")

    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="rightsizing-model-server-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))  # bound, not listening: gunicorn calls listen() with its own backlog
        port = sock.getsockname()[1]
        cmd = [
            sys.executable, "-m", "gunicorn", APP_SPEC,
            "--bind", f"fd://{sock.fileno()}",
            "--workers", str(workers),
            *(["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else ["--worker-class", "sync"]),
            "--preload",
            "--timeout", str(timeout),
            "--graceful-timeout", "2",  # stop() should not wait out gunicorn's default 30 s
            "--error-logfile", "-",  # stderr, which goes to log_path with any traceback printed before logging is up
            "--log-level", "info",
            "--no-control-socket",  # default is one shared ~/.gunicorn/gunicorn.ctl: concurrent servers would clash
        ]  # fmt: skip
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
                start_new_session=True,
                preexec_fn=_affinity_setter(cpus),  # only a syscall runs between fork and exec
            )
    finally:
        sock.close()  # the child holds its own copy; ours must go so the port closes when the server stops
    return ServerProcess(url=f"http://{HOST}:{port}", port=port, process=process, log_path=log_path, workers=workers)


def wait_ready(server: ServerProcess, timeout: float = 30.0) -> None:
    """Block until ``/ping`` answers 200 and every worker is forked. Raise RuntimeError with the log tail if the
    server exits or times out (it is stopped first, so a failed start never leaves processes behind).

    Waiting for all workers matters for benchmarks: gunicorn forks them one by one with random pauses of up to
    0.1 s, so the first worker answers /ping while the others are still missing.
    """
    deadline = time.monotonic() + timeout
    while True:
        code = server.exit_code()
        if code is not None:
            server.stop()  # workers may outlive a crashed master
            raise RuntimeError(
                f"model server exited with code {code} before becoming ready; log {server.log_path}:\n"
                f"{server.log_tail()}"
            )
        if server.is_ready() and _all_workers_up(server):
            return
        if time.monotonic() >= deadline:
            server.stop()
            raise RuntimeError(
                f"model server at {server.url} not ready after {timeout:.0f} s; log {server.log_path}:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.05)


def _affinity_setter(cpus: list[int] | None) -> Callable[[], None] | None:
    """preexec_fn pinning the child to ``cpus`` (ids this process may not use are ignored; none left: no pinning)."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):  # Linux only; elsewhere run unpinned
        return None
    allowed = set(cpus) & os.sched_getaffinity(0)
    if not allowed:
        return None
    return lambda: os.sched_setaffinity(0, allowed)


def _int_setting(environment: dict[str, str], name: str, default: int) -> int:
    raw = environment.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _all_workers_up(server: ServerProcess) -> bool:
    return not os.path.isdir("/proc") or len(server.worker_pids()) >= server.workers


def _live_children(ppid: int) -> list[int]:
    children = []
    with contextlib.suppress(FileNotFoundError):  # no /proc (not Linux): no workers to report
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()  # the command name may contain spaces
            except OSError:  # exited meanwhile
                continue
            if int(fields[1]) == ppid and fields[0] != b"Z":
                children.append(int(entry.name))
    return children


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists but is not ours (pid reused): not our server any more
        return False
    return True


def _wait_group_gone(process: subprocess.Popen[bytes], deadline: float) -> bool:
    """Reap the master and wait until no process of its group is left; False if ``deadline`` passes first."""
    while time.monotonic() < deadline:
        process.poll()  # reaping the master is needed for the group to disappear
        if not _group_alive(process.pid):
            return True
        time.sleep(0.02)
    process.poll()
    return not _group_alive(process.pid)
