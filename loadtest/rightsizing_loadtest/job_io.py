"""The task's I/O with its caller: configuration from the environment, the job and payloads from the store,
progress as JSON lines on stdout, artefacts back to the store, and errors with an exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rightsizing.adapters.s3 import UriStore
from rightsizing.exceptions import StoreError
from rightsizing.models.plan import LoadTestJob
from rightsizing.payload_bodies import bodies_from_document
from rightsizing.store import ArtifactStore, get_json, join_uri
from rightsizing_loadtest.endpoint import EndpointConfigError, check_loopback_url

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
        return LoadTestJob.model_validate(get_json(job_uri, UriStore()))
    except (StoreError, ValidationError, ValueError, OSError) as e:
        raise TaskError(EXIT_FAILED, f"cannot read the load-test job at {job_uri}: {one_line(e)}") from e


def load_payloads(uri: str) -> list[bytes]:
    """The bodies exactly as the plan step read them: bytes, sent unchanged (never decoded as text)."""
    try:
        document = get_json(uri, UriStore())
    except (StoreError, ValueError, OSError) as e:
        raise TaskError(EXIT_FAILED, f"cannot read payloads at {uri}: {one_line(e)}") from e
    try:
        return bodies_from_document(document)
    except ValueError as e:
        raise TaskError(EXIT_FAILED, f"payloads at {uri}: {one_line(e)}") from e


def upload(store: ArtifactStore, results_uri: str, files: dict[str, Path]) -> dict[str, str]:
    uris = {}
    for name, path in files.items():
        if path.is_file():
            uri = join_uri(results_uri, path.name)
            store.put_bytes(uri, path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
            uris[name] = uri
    return uris
