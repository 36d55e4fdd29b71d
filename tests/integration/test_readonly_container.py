"""The load-test entry point under the file-system constraints of its Fargate task, without Docker.

What is emulated, with bubblewrap (``bwrap``, Debian package ``bubblewrap``): the process runs as UID/GID 10001 in a
user namespace, the whole file system read-only (``ReadonlyRootFilesystem``), its working directory and ``HOME`` the
image's read-only ``/home/loadtest``, and writable only:

- each ``ContainerPath`` the task definitions in template.yaml mount, as the volume Fargate would give this image
  (tests/container_image.py: the image's directory owner and mode when the Dockerfile declares the path as a
  ``VOLUME``, else root-owned 0755). The sandbox's user maps to whoever runs the test, so a directory's owner is
  expressed through its mode: the bits of the class UID 10001 falls in (owner, group or other) are given to every
  class, which grants exactly the access the real owner and mode would;
- ``/srv/bucket``, a folder standing in for the S3 prefix the job, payloads and results live under (``file://``
  URIs instead of ``s3://``; tests/integration/test_loadtest_s3.py covers S3).

The network is shared so the task reaches the ground-truth server on 127.0.0.1 (``ENDPOINT_URL``). The code is
mounted read-only where the image has it (``/opt/rightsizing``: the two packages only) and the test venv beside it,
so neither depends on where the repository was cloned (a clone under /tmp or /home would otherwise be hidden by the
volumes and tmpfs the sandbox mounts there). Not emulated: the image's own interpreter and packages (the test venv's,
read-only, stand in for them; tests/unit/test_dockerfile.py checks the image installs the same pins), seccomp and
capabilities beyond bubblewrap's (it drops all of them).

Each run is bounded to seconds: a two-step search on a small ground-truth server, and the failures fail at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from container_image import IMAGE_UID, REPO, dockerfile, task_mount_points, volume_permissions
from loopback import TaskRun

from rightsizing.models.plan import LoadTestJob
from rightsizing.models.request import LoadSettings
from rightsizing.models.result import LoadTestResult
from rightsizing.store import put_json

BWRAP = shutil.which("bwrap")
BUCKET = "/srv/bucket"  # where the stand-in for S3 appears inside the sandbox
HOME = "/home/loadtest"  # the image's WORKDIR and the user's home: read-only in the container
MAX_SECONDS = 10
IMAGE_CODE = "/opt/rightsizing"  # the image's PYTHONPATH: the domain library and the load generator, nothing else
VENV = "/opt/venv"  # the test venv, standing in for the image's site-packages
# Where the interpreter's own files live (outside the venv); mounted at the same path if the sandbox hides it.
PYTHON_HOME = Path(sys.base_prefix).resolve()
HIDDEN_BY_SANDBOX = ("/home", "/srv", "/opt")  # replaced by tmpfs below


def bwrap_works() -> str | None:
    """Why the sandbox cannot run here, or None."""
    if BWRAP is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = subprocess.run(
        [BWRAP, "--ro-bind", "/", "/", "--unshare-user", "--uid", str(IMAGE_UID), "--", "true"],
        capture_output=True,
        text=True,
    )
    return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()}" if probe.returncode else None


SANDBOX_UNAVAILABLE = bwrap_works()
pytestmark = pytest.mark.skipif(SANDBOX_UNAVAILABLE is not None, reason=str(SANDBOX_UNAVAILABLE))


def writable_volume(path: Path, uid: int, gid: int, mode: int) -> Path:
    """A host folder that UID/GID 10001 in the sandbox may use as the owner ``uid``:``gid`` and ``mode`` allow."""
    if uid == IMAGE_UID:
        bits = (mode >> 6) & 0o7
    elif gid == IMAGE_UID:
        bits = (mode >> 3) & 0o7
    else:
        bits = mode & 0o7
    path.mkdir(parents=True)
    path.chmod((mode & 0o7000) | bits * 0o111)
    return path


def sandbox_command(volumes: dict[str, Path], bucket: Path) -> list[str]:
    assert BWRAP
    command = [
        BWRAP,
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--unshare-user", "--uid", str(IMAGE_UID), "--gid", str(IMAGE_UID),
        "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent",
        "--tmpfs", "/home", "--dir", HOME,
        "--tmpfs", "/srv", "--bind", str(bucket), BUCKET,
        "--tmpfs", "/opt",
        "--ro-bind", str(REPO / "layers" / "rightsizing" / "rightsizing"), f"{IMAGE_CODE}/rightsizing",
        "--ro-bind", str(REPO / "loadtest" / "rightsizing_loadtest"), f"{IMAGE_CODE}/rightsizing_loadtest",
        "--ro-bind", sys.prefix, VENV,
    ]  # fmt: skip
    if str(PYTHON_HOME).startswith(HIDDEN_BY_SANDBOX):
        command += ["--ro-bind", str(PYTHON_HOME), str(PYTHON_HOME)]
    command += ["--remount-ro", "/home", "--remount-ro", "/srv", "--remount-ro", "/opt"]
    for container_path, host_path in volumes.items():
        command += ["--bind", str(host_path), container_path]
    return [*command, "--chdir", HOME, "--", f"{VENV}/bin/python3", "-m", "rightsizing_loadtest.task"]


def sandbox_environment(job_uri: str, endpoint_url: str) -> dict[str, str]:
    """The task definition's environment and the image's, and nothing of the developer's (no AWS credentials)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": HOME,
        "TMPDIR": "/tmp",
        "PYTHONPATH": IMAGE_CODE,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "JOB_URI": job_uri,
        "ENDPOINT_URL": endpoint_url,
    }


def write_job(bucket: Path) -> str:
    """A two-step job under ``bucket``, its URIs as the sandbox sees them."""
    bucket.mkdir()
    put_json((bucket / "payloads.json").as_uri(), ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3"])
    job = LoadTestJob(
        run_id="run-1",
        candidate_id="local-small-0",
        instance_type="local.small",
        endpoint_name="rightsizing-run-1-local-small-0",
        region="us-east-1",
        content_type="text/csv",
        payloads_uri=f"file://{BUCKET}/payloads.json",
        sla={"percentile": "p95", "milliseconds": 200.0},
        max_error_rate=0.01,
        load=LoadSettings(mode="stepped", step_seconds=1, max_users=2),
        max_seconds=MAX_SECONDS,
        results_uri=f"file://{BUCKET}/results",
    )
    put_json((bucket / "job.json").as_uri(), job.model_dump(mode="json"))
    return f"file://{BUCKET}/job.json"


def run_in_sandbox(tmp_path: Path, endpoint_url: str, volumes: dict[str, Path]) -> TaskRun:
    bucket = tmp_path / "bucket"
    job_uri = write_job(bucket)
    started = time.monotonic()
    completed = subprocess.run(
        sandbox_command(volumes, bucket),
        env=sandbox_environment(job_uri, endpoint_url),
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS + 30,
    )
    return TaskRun(completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started)


def fargate_volumes(tmp_path: Path, permissions: Callable[[str], tuple[int, int, int]]) -> dict[str, Path]:
    """One volume per path the load-test containers mount, as ``permissions(path)`` prepares it."""
    paths = sorted({m.path for m in task_mount_points()})
    assert paths, "the task definitions mount nothing: the read-only container could not write at all"
    return {p: writable_volume(tmp_path / "volumes" / p.strip("/"), *permissions(p)) for p in paths}


def error_message(run: TaskRun) -> str:
    errors: list[dict[str, Any]] = [e for e in run.events if e["event"] == "error"]
    assert len(errors) == 1, (run.stdout, run.stderr)
    return str(errors[0]["message"])


def test_entry_point_measures_with_only_the_volumes_the_task_definitions_mount_writable(
    tmp_path: Path, start_server: Callable[..., Any]
) -> None:
    server = start_server()
    image = dockerfile()
    volumes = fargate_volumes(tmp_path, lambda path: volume_permissions(path, image))

    run = run_in_sandbox(tmp_path, server.url, volumes)

    assert run.returncode == 0, run.stderr
    assert [e["event"] for e in run.events] == ["start", "probe", "probe", "done"]
    result = LoadTestResult.model_validate_json((tmp_path / "bucket" / "results" / "result.json").read_text())
    assert result.candidate_id == "local-small-0" and result.requests > 0 and result.failures == 0
    assert {"trace", "locust_stats", "locust_report"} <= set(result.artifacts)
    assert all(uri.startswith(f"file://{BUCKET}/results/") for uri in result.artifacts.values())
    assert server.invocations >= result.requests
    for volume in volumes.values():
        assert not list(volume.iterdir())  # scratch only: the temporary directory was removed


def test_entry_point_fails_clearly_when_tmp_is_read_only(tmp_path: Path, start_server: Callable[..., Any]) -> None:
    """No volume at all: /tmp is part of the read-only root, as in a task definition without the mount."""
    server = start_server()

    run = run_in_sandbox(tmp_path, server.url, volumes={})

    assert run.returncode == 1, run.stderr
    assert "No usable temporary directory" in error_message(run)
    # Nothing measured, nothing reported as measured: only the generator's own account of why it failed.
    written = sorted(p.name for p in (tmp_path / "bucket" / "results").rglob("*") if p.is_file())
    assert written in ([], ["error.json"]), written
    if written:
        said = json.loads((tmp_path / "bucket" / "results" / "error.json").read_text())
        assert "No usable temporary directory" in said["message"]


def test_entry_point_fails_on_fargates_default_bind_mount(tmp_path: Path, start_server: Callable[..., Any]) -> None:
    """The volume Fargate mounts when the image does not declare it: writable by root only (owner 0, mode 0755)."""
    server = start_server()
    volumes = fargate_volumes(tmp_path, lambda path: (0, 0, 0o755))

    run = run_in_sandbox(tmp_path, server.url, volumes)

    assert run.returncode == 1, run.stderr
    assert "No usable temporary directory" in error_message(run)
    assert all(not list(volume.iterdir()) for volume in volumes.values())
