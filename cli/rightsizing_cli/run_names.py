"""Run ids on AWS: the execution name, derived from the request so the same request is not started twice by accident.

Starting a Standard workflow with the name and input of an execution that is still running returns that execution;
with a finished one (names stay taken for 90 days) Step Functions answers ExecutionAlreadyExists. So the name is the
request's ``name`` plus a digest of the exact input sent, and that input is canonical JSON (sorted keys, payload
files inlined), byte for byte the same for the same request.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.plan import check_run_id
from rightsizing.models.request import RightsizingRequest
from rightsizing.payload_bodies import archive_members, is_text_type

DIGEST_CHARS = 12
MAX_INPUT_BYTES = 256 * 1024  # Step Functions: execution input, UTF-8 encoded


def execution_input(request: RightsizingRequest) -> str:
    """The request as the state machine gets it: canonical JSON, local payload files inlined (the plan step runs
    in Lambda and cannot read this machine's files; ``s3://`` files and archives stay references). A file of a text
    content type becomes a sample, any other (an image, a .npy array) a base64 sample, sent as the same bytes; a
    local archive's members become base64 samples."""
    payloads = request.payloads
    local = [name for name in payloads.files if not name.startswith("s3://")]
    local_archive = payloads.archive if payloads.archive and not payloads.archive.startswith("s3://") else None
    samples = list(payloads.samples)
    samples_base64 = list(payloads.samples_base64)
    for name in local:
        data = Path(name).read_bytes()
        if is_text_type(payloads.content_type):
            try:
                samples.append(data.decode("utf-8"))
                continue
            except UnicodeDecodeError:
                raise InvalidRequest(
                    "payloads.files", f"{name} is not UTF-8 text, but {payloads.content_type} is a text type"
                ) from None
        samples_base64.append(base64.b64encode(data).decode("ascii"))
    if local_archive:
        members = archive_members(Path(local_archive).read_bytes(), Path(local_archive).name)
        samples_base64.extend(base64.b64encode(data).decode("ascii") for _, data in members)
    payloads = payloads.model_copy(
        update={
            "samples": samples,
            "samples_base64": samples_base64,
            "files": [name for name in payloads.files if name not in local],
            "archive": None if local_archive else payloads.archive,
        }
    )
    document = request.model_copy(update={"payloads": payloads}).model_dump(mode="json")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode())
    if size > MAX_INPUT_BYTES:
        raise InvalidRequest(
            "payloads",
            f"the request with its payloads is {size / 1024:.0f} KiB; a Step Functions execution takes at most "
            f"{MAX_INPUT_BYTES // 1024} KiB of input: use fewer or smaller samples, or put them in the results "
            "bucket (payloads.files or payloads.archive: s3://...)",
        )
    return text


def default_run_name(request: RightsizingRequest, input_json: str) -> str:
    """``<request name>-<first 12 hex of sha256(input)>``: at most 53 characters (names are at most 40)."""
    return f"{request.name}-{hashlib.sha256(input_json.encode()).hexdigest()[:DIGEST_CHARS]}"


def check_run_name(name: str, field: str = "--name") -> str:
    """The plan step's own run-id rule (``rightsizing.models.plan.check_run_id``), naming the option."""
    return check_run_id(name, field)


def run_id_of(execution_arn: str) -> str:
    """The run id (execution name) at the end of an execution ARN."""
    return execution_arn.rsplit(":", 1)[-1]


def console_url(execution_arn: str) -> str:
    """The execution's page in the Step Functions console (partition and region from the ARN)."""
    parts = execution_arn.split(":")
    partition, region = parts[1], parts[3]
    host = {
        "aws-cn": "console.amazonaws.cn",
        "aws-us-gov": "console.amazonaws-us-gov.com",
    }.get(partition, f"{region}.console.aws.amazon.com")
    return f"https://{host}/states/home?region={region}#/v2/executions/details/{execution_arn}"
