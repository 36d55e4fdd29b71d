"""Execute the real ASL definition in-process with moto's Step Functions interpreter (LocalStack's, vendored).

Every Task integration in the interpreter obtains its AWS client from one function, ``boto_client_for``, imported by
name into many modules. ``routed_integrations`` swaps it everywhere for a factory that hands out our local fakes.
This is moto-internal API, hence the exact pin in pyproject.toml; a version check fails loudly if it drifts.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsizing_local.aws_semantics import aws_error_semantics
from rightsizing_local.patching import patched

SUPPORTED_MOTO = "5.2.5"
DEFINITION_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "rightsizing.asl.json"
CLEANUP_DEFINITION_PATH = DEFINITION_PATH.with_name("cleanup.asl.json")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_patch_lock = threading.Lock()


class LocalExecutionError(RuntimeError):
    """The local interpreter could not run the definition (not a failure *of* the run)."""


@dataclass
class ExecutionOutcome:
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def entered_states(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if "stateEnteredEventDetails" in e]


def render_definition(substitutions: Mapping[str, str], path: Path = DEFINITION_PATH) -> str:
    """Apply DefinitionSubstitutions exactly as SAM does: plain ``${Name}`` text replacement."""
    text = path.read_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(substitutions))
    if missing:
        raise LocalExecutionError(f"no substitution for {', '.join(missing)} in {path.name}")
    return _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], text)


def _check_moto() -> None:
    import moto

    if moto.__version__ != SUPPORTED_MOTO:
        raise LocalExecutionError(
            f"local mode patches moto {SUPPORTED_MOTO} internals but moto {moto.__version__} is installed; "
            f"run: pip install 'moto[stepfunctions]=={SUPPORTED_MOTO}'"
        )


def _import_integrations() -> None:
    """Load every interpreter module so each one's imported ``boto_client_for`` can be swapped."""
    import moto.stepfunctions.parser.asl.component as component

    for module in pkgutil.walk_packages(component.__path__, component.__name__ + "."):
        importlib.import_module(module.name)


class _ScaledClock:
    """Stands in for ``time`` in the interpreter's retrier: Retry back-off sleeps scaled (tests only)."""

    def __init__(self, scale: float) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self._scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _scaled_waits(scale: float) -> Callable[..., None]:
    """Wait states' intervals scaled, in whole seconds (the interpreter counts whole seconds), at least one."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    original = WaitFunction._wait_interval

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        original(self, env=env, wait_seconds=max(1, round(wait_seconds * scale)) if wait_seconds > 0 else 0)

    return wait_interval


@contextmanager
def routed_integrations(
    clients: Mapping[str, Any], retry_time_scale: float = 1.0, wait_time_scale: float = 1.0
) -> Iterator[None]:
    """Route the interpreter's AWS clients to ``clients[service_name]`` for the duration of the block.

    The interpreter also fails like AWS there (``aws_semantics``); ``retry_time_scale`` < 1 shortens Retry
    back-offs (IntervalSeconds are constants in the definition) so tests of retried errors stay fast;
    ``wait_time_scale`` < 1 shortens Wait states (the cleanup machine's minutes between sweeps).
    """
    _check_moto()
    _import_integrations()
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def local_client(region: str, service: str, state_credentials: Any = None) -> Any:
        try:
            return clients[service]
        except KeyError:
            raise LocalExecutionError(f"local mode has no stand-in for AWS service '{service}'") from None

    with _patch_lock, ExitStack() as stack:
        for name, module in list(sys.modules.items()):
            if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
                stack.enter_context(patched(module, "boto_client_for", local_client))
        stack.enter_context(patched(retrier_decl, "time", _ScaledClock(retry_time_scale)))
        if wait_time_scale != 1.0:
            from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

            stack.enter_context(patched(WaitFunction, "_wait_interval", _scaled_waits(wait_time_scale)))
        stack.enter_context(aws_error_semantics())
        yield


def execute(
    definition: str,
    execution_input: dict[str, Any],
    name: str,
    clients: Mapping[str, Any],
    timeout_seconds: float,
    on_poll: Callable[[], None] | None = None,
    retry_time_scale: float = 1.0,
    wait_time_scale: float = 1.0,
    machine_name: str = "rightsizing-local",
) -> ExecutionOutcome:
    """Create the state machine in moto, start one execution, wait for it to end; Ctrl-C stops it."""
    import boto3
    from moto import mock_aws

    # moto warns on every optimised SageMaker integration it forwards; that is expected here, not news.
    # The interpreter also logs, at ERROR, every exception it catches, even those the definition handles (IsPresent
    # on a missing path); real failures reach the user through the execution and the candidates' results.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    config: Any = {"stepfunctions": {"execute_state_machine": True}}
    with mock_aws(config=config), routed_integrations(clients, retry_time_scale, wait_time_scale):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name=machine_name,
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/rightsizing-local",
        )
        arn = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], name=name, input=json.dumps(execution_input)
        )["executionArn"]
        deadline = time.monotonic() + timeout_seconds
        try:
            description = _wait(sfn, arn, deadline, on_poll)
        except BaseException:
            sfn.stop_execution(executionArn=arn, error="LocalRunInterrupted", cause="stopped by the local runner")
            raise
        history = [
            e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn) for e in page["events"]
        ]
        return ExecutionOutcome(
            status=description["status"],
            output=json.loads(description["output"]) if description.get("output") else None,
            error=description.get("error"),
            cause=description.get("cause"),
            history=history,
        )


def _wait(sfn: Any, arn: str, deadline: float, on_poll: Callable[[], None] | None) -> dict[str, Any]:
    while True:
        description: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return description
        if time.monotonic() > deadline:
            raise TimeoutError(f"local execution did not finish within its time bound ({arn})")
        if on_poll:
            on_poll()
        time.sleep(0.2)
