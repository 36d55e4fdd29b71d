"""Preflight: what would make a run on AWS fail, checked from the user's machine before anything is created.

The checks here need no credentials (botocore's bundled region and instance-type lists, the request itself); the
online ones are in ``preflight_account``. Each check is ok, failed, or "not checked" with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from rightsizing.adapters.aws_backend import AWS_POLL_SECONDS
from rightsizing.adapters.guard import check_instance_types, check_region
from rightsizing.exceptions import InvalidRequest
from rightsizing.history_budget import HISTORY_EVENT_BUDGET, HISTORY_EVENT_LIMIT, poll_schedule, worst_case_events
from rightsizing.models.request import MAX_PAYLOAD_BYTES, ContainerModelSource, ModelPackageSource, RightsizingRequest
from rightsizing.payload_bodies import collect_bodies

CheckStatus = Literal["ok", "failed", "not checked"]
MAX_EXECUTION_INPUT_CHARS = 262_144  # StartExecution `input` (stepfunctions service model: max 262144)


class Check(BaseModel):
    name: str
    status: CheckStatus
    detail: str


def ok(name: str, detail: str) -> Check:
    return Check(name=name, status="ok", detail=detail)


def failed(name: str, detail: str) -> Check:
    return Check(name=name, status="failed", detail=detail)


def not_checked(name: str, detail: str) -> Check:
    return Check(name=name, status="not checked", detail=detail)


# --- offline ---------------------------------------------------------------------------------------------------


def offline_checks(request: RightsizingRequest, region: str) -> list[Check]:
    """Checks that need neither credentials nor network."""
    return [
        _aws_candidates(request),
        _region(request, region),
        _instance_types(request),
        _payloads(request),
        _execution_input(request),
        _history_events(request),
    ]


def _aws_candidates(request: RightsizingRequest) -> Check:
    if request.is_local:
        return failed("AWS candidates", "local.* profiles run only in local mode (`rightsize run`)")
    return ok("AWS candidates", f"{len(request.variants())} benchmark(s) of {len(request.candidates)} candidate(s)")


def _region(request: RightsizingRequest, region: str) -> Check:
    try:
        check_region(request.region)
    except InvalidRequest as e:
        return failed("region", e.details)
    if request.region != region:
        return failed(
            "region",
            f"the request benchmarks in {request.region} but the stack is asked for in {region}: "
            f"set the request's region or use --region {request.region}",
        )
    return ok("region", f"SageMaker is offered in {region}")


def _instance_types(request: RightsizingRequest) -> Check:
    if request.is_local:
        return not_checked("instance types", "local.* profiles are not SageMaker instance types")
    try:
        check_instance_types(request)
    except InvalidRequest as e:
        return failed("instance types", e.details)
    types = sorted({spec.instance_type for spec in request.candidates if not spec.is_serverless})
    if not types:
        return not_checked("instance types", "serverless candidates only: no instance type to check")
    return ok("instance types", f"known to SageMaker real-time hosting: {', '.join(types)}")


def _payloads(request: RightsizingRequest) -> Check:
    """Inline samples are size-checked by the request model; local files and a local archive are read again here
    (they are read when the run starts) and each body checked against the content type; S3 ones are checked online."""
    problems: list[str] = []
    payloads = request.payloads
    local = [name for name in payloads.files if not name.startswith("s3://")]
    for name in local:
        path = Path(name)
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as e:
            problems.append(f"{name}: cannot be read ({e.strerror or e})")
            continue
        if size > MAX_PAYLOAD_BYTES:
            problems.append(f"{name}: {size / 1e6:.1f} MB is above InvokeEndpoint's 6 MB body limit")
    if problems:
        return failed("payloads", "; ".join(problems))
    try:
        bodies = collect_bodies(payloads, _read_here)
    except InvalidRequest as e:
        return failed("payloads", e.details)
    in_s3 = len(payloads.files) - len(local) + int(bool(payloads.archive and payloads.archive.startswith("s3://")))
    inline = len(payloads.samples) + len(payloads.samples_base64)
    parts = [f"{inline} inline sample(s)"] if inline else []
    if len(bodies) > inline:
        parts.append(f"{len(bodies) - inline} local file(s) and archive member(s) readable")
    if in_s3:
        parts.append(f"{in_s3} file(s) or archive in S3 (checked online)")
    return ok(
        "payloads", ", ".join(parts) + f", each within InvokeEndpoint's 6 MB body limit and {payloads.content_type}"
    )


def _read_here(name: str) -> bytes | None:
    """This machine's payload files; S3 ones are the online check's."""
    return None if name.startswith("s3://") else Path(name).read_bytes()


def _execution_input(request: RightsizingRequest) -> Check:
    size = len(request.model_dump_json())
    detail = f"the request is {size / 1024:.1f} KiB of StartExecution's {MAX_EXECUTION_INPUT_CHARS // 1024} KiB input"
    if size > MAX_EXECUTION_INPUT_CHARS:
        return failed("execution input", f"{detail}: move payload samples to files in S3")
    return ok("execution input", detail)


def _history_events(request: RightsizingRequest) -> Check:
    try:
        schedule = poll_schedule(request, AWS_POLL_SECONDS, HISTORY_EVENT_BUDGET)
    except InvalidRequest as e:
        return failed("history events", e.details)
    worst = worst_case_events(len(request.variants()), request.limits.max_endpoint_wait_seconds, schedule.poll_seconds)
    return ok(
        "history events",
        f"endpoint status polled every {schedule.poll_seconds} s; worst case {worst:,} of the execution's "
        f"{HISTORY_EVENT_LIMIT:,} events",
    )


def online_check_names(request: RightsizingRequest) -> list[str]:
    """The online checks this request gets, in order."""
    names = ["AWS credentials", "stack", "instance types offered", "endpoint quotas"]
    if isinstance(request.model, ModelPackageSource):
        names.append("model package")
    elif isinstance(request.model, ContainerModelSource):
        names.append("model data")
    names.append("SageMaker execution role")
    if s3_payloads(request):
        names.append("payload files in S3")
    if any(spec.endpoint_name for spec in request.candidates):
        names.append("existing endpoints")
    return names


def s3_payloads(request: RightsizingRequest) -> list[str]:
    """The request's payload files and archive given as s3:// URIs."""
    named = [*request.payloads.files, *([request.payloads.archive] if request.payloads.archive else [])]
    return [name for name in named if name.startswith("s3://")]


def all_not_checked(request: RightsizingRequest, reason: str) -> list[Check]:
    """Every online check as "not checked": the first with ``reason``, the others pointing at it."""
    first, *rest = online_check_names(request)
    return [not_checked(first, reason), *(not_checked(name, f"needs AWS access ({first}: see above)") for name in rest)]
