"""Helpers of the local pipeline tests: fault-injecting proxies over the fakes, and the cleanup assertions."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from rightsizing.models.request import RightsizingRequest
from rightsizing_local.run import LocalRun, run_local

CREATE_AND_DELETE = {
    "CreateModel": "DeleteModel",
    "CreateEndpointConfig": "DeleteEndpointConfig",
    "CreateEndpoint": "DeleteEndpoint",
}
# Retry back-offs are constants in the definition (5-60 s); tests run them 1,000 times faster.
RETRY_TIME_SCALE = 0.001


class Proxy:
    """Passes every call through to the real fake, except those a test overrides."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class PlanOverride(Proxy):
    """Rewrites fields of every candidate in the plan step's output, e.g. a short ``max_polls`` to reach the
    endpoint-wait timeout in seconds (the request model's minimum wait is a minute)."""

    def __init__(self, inner: Any, only: str = "", **candidate_fields: Any) -> None:
        """``only``: the candidates whose id ends so (default: all)."""
        super().__init__(inner)
        self.only = only
        self.candidate_fields = candidate_fields

    def invoke(self, FunctionName: str, Payload: bytes | str | None = None, **kwargs: Any) -> dict:
        response = self.inner.invoke(FunctionName=FunctionName, Payload=Payload, **kwargs)
        if not FunctionName.endswith("-plan") or response.get("FunctionError"):
            return response
        plan = json.loads(response["Payload"].read())
        for candidate in plan["candidates"]:
            if candidate["candidate_id"].endswith(self.only):
                candidate.update(self.candidate_fields)
        return {**response, "Payload": io.BytesIO(json.dumps(plan).encode())}


def run(
    tmp_path: Path, document: dict[str, Any], wrap: Callable[[dict], dict] | None = None, **options: Any
) -> LocalRun:
    """``options``: more of ``run_local``'s (``sweep_schedule``, ``execution_timeout_seconds``)."""
    request = RightsizingRequest.model_validate(document)
    return run_local(request, tmp_path, wrap_clients=wrap, retry_time_scale=RETRY_TIME_SCALE, **options)


def by_id(result: LocalRun) -> dict[str, Any]:
    assert result.result is not None
    return {c.candidate_id: c for c in result.result.candidates}


def assert_everything_deleted(result: LocalRun) -> None:
    """Deleted by the state machines (the run's or the cleanup one), before the local run's own shutdown."""
    assert result.leftovers == {"models": [], "endpoint_configs": [], "endpoints": []}
    assert result.tasks_left == [], "load-test tasks still running when the state machines had ended"
    created = [(op, name) for op, name in result.sagemaker_calls if op in CREATE_AND_DELETE]
    for op, name in created:
        assert (CREATE_AND_DELETE[op], name) in result.sagemaker_calls, f"{op} {name} was never undone"
    assert result.process_groups, "expected servers/generators to have been started"
    assert_no_process_left(result.process_groups)


def assert_no_process_left(groups: list[int]) -> None:
    alive = [p.pid for p in psutil.process_iter() if _pgid(p.pid) in groups]
    assert not alive, f"processes left behind: {alive}"


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
