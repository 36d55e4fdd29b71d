"""Make moto's Step Functions interpreter fail the way AWS Step Functions does, where it does not by itself.

The state machine's Retry and Catch rules name real AWS errors; local runs only test them if the interpreter
raises the same names. Four behaviours are aligned (moto-internal API, pinned with the interpreter in
``asl_runner``):

- ``aws-sdk:sagemaker:*`` errors are ``SageMaker.<Error>Exception`` — modelled errors keep their name
  (``SageMaker.ResourceLimitExceededException``) and every other code, throttling and ValidationException included,
  is ``SageMaker.SageMakerException``. moto has no binding for "sagemaker" and would report ``sagemaker.…``.
- The optimised ``sagemaker:createModel/createEndpointConfig/createEndpoint`` integrations name unmodelled errors
  ``SageMaker.AmazonSageMakerException`` (Java SDK v1 naming, as in AWS's SageMaker sample projects) and modelled ones
  ``SageMaker.ResourceLimitExceededException``; moto forwards them unhandled, which surfaces as ``States.Runtime``.
- ``ecs:runTask.sync`` fails with ``States.TaskFailed`` when a container exits non-zero (AWS does; moto returns
  success on any STOPPED task). The cause is the task description, as on AWS.
- RunTask's own errors through ``ecs:runTask.sync`` are ``ECS.<Error>`` for errors ECS models
  (``ECS.AccessDeniedException``, ``ECS.InvalidParameterException``, …) and ``ECS.AmazonECSException`` otherwise;
  moto reports them as ``States.Runtime``.
- An execution that is stopped or times out while ``ecs:runTask.sync`` waits stops the task (StopTask), as Step
  Functions does; moto stops waiting and leaves the task running.
- An execution stopped during an inline Map stays ABORTED: moto trips over its own aborted iteration
  (``AttributeError`` building the Map's error output) and would record that as a States.Runtime failure.
- An iteration that fails with a ``States.*`` error no Catch takes (``States.Runtime``: a path the definition
  cannot read) fails the Map, and so the execution, with that error and its cause, as on AWS; moto refuses to name
  it (``Custom Error Names MUST NOT begin with the prefix 'States.'``) and loses the cause.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from rightsizing_local.patching import patched


def failure_event(service_task: Any, env: Any, error: str, cause: str) -> Any:
    """A TaskFailed event for ``service_task`` as the interpreter records it."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    states_names = {t.to_name(): t for t in StatesErrorNameType}
    name = StatesErrorName(typ=states_names[error]) if error in states_names else CustomErrorName(error)
    details = TaskFailedEventDetails(
        resource=service_task._get_sfn_resource(),
        resourceType=service_task._get_sfn_resource_type(),
        error=error,
        cause=cause,
    )
    return FailureEvent(
        env=env,
        error_name=name,
        event_type=HistoryEventType.TaskFailed,
        # moto declares EventDetails total, yet every event (its own too) sets exactly one of its keys
        event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]
    )


def optimised_sagemaker_error(error: ClientError) -> tuple[str, str]:
    """(error name, cause) of a ClientError raised through an optimised SageMaker integration."""
    code = error.response.get("Error", {}).get("Code", "")
    modelled = type(error) is not ClientError  # botocore builds a subclass per modelled error code
    name = f"SageMaker.{code}Exception" if modelled else "SageMaker.AmazonSageMakerException"
    meta = error.response.get("ResponseMetadata", {})
    cause = (
        f"{error.response.get('Error', {}).get('Message', '')} (Service: AmazonSageMaker; Status Code: "
        f"{meta.get('HTTPStatusCode', 400)}; Error Code: {code}; Request ID: {meta.get('RequestId', '')}; Proxy: null)"
    )
    return name, cause


def optimised_ecs_error(error: ClientError) -> tuple[str, str]:
    """(error name, cause) of a ClientError raised by RunTask through the optimised ECS integration."""
    code = error.response.get("Error", {}).get("Code", "")
    modelled = type(error) is not ClientError
    name = f"ECS.{code}" if modelled else "ECS.AmazonECSException"
    meta = error.response.get("ResponseMetadata", {})
    cause = (
        f"{error.response.get('Error', {}).get('Message', '')} (Service: AmazonECS; Status Code: "
        f"{meta.get('HTTPStatusCode', 400)}; Error Code: {code}; Request ID: {meta.get('RequestId', '')}; Proxy: null)"
    )
    return name, cause


def _failed_container(task: dict[str, Any]) -> bool:
    return any(c.get("ExitCode") not in (None, 0) for c in task.get("Containers", []))


@contextmanager
def stopping_like_aws(ecs_service: Any) -> Iterator[None]:
    """A stopped (or timed-out) execution: its running ``.sync`` task is stopped, and it stays ABORTED."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped, ProgramTimedOut

    original_eval_sync = ecs_service._eval_sync
    original_set_error = Environment.set_error

    def eval_sync(self: Any, **kwargs: Any) -> Any:
        result = original_eval_sync(self, **kwargs)
        stop = getattr(kwargs.get("sync_resolver"), "stop", None)  # set by aws_error_semantics's resolver
        if stop is not None and not kwargs["env"].is_running():
            stop()
        return result

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self.program_state(), (ProgramStopped, ProgramTimedOut)):
            return  # stopped or timed out: nothing after that changes how the execution ended
        original_set_error(self, error)

    with patched(ecs_service, "_eval_sync", eval_sync), patched(Environment, "set_error", set_error):
        yield


def iteration_error_name(error_name: str) -> Any:
    """The error name an iteration's failure carries to its Map: ``States.*`` ones as themselves."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    states_names = {t.to_name(): t for t in StatesErrorNameType}
    if error_name in states_names:
        return StatesErrorName(typ=states_names[error_name])
    return CustomErrorName(error_name=error_name)


@contextmanager
def aws_error_semantics() -> Iterator[None]:
    """Apply the behaviours above for the duration of the block (callers hold the runner's patch lock)."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs_module,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
        StateTaskServiceEcs,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (
        StateTaskServiceUnsupported,
    )

    original_from_error = StateTaskServiceUnsupported._from_error
    original_ecs_from_error = StateTaskServiceEcs._from_error
    original_sync_resolver = StateTaskServiceEcs._build_sync_resolver

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError) and self._get_boto_service_name() == "sagemaker":
            return failure_event(self, env, *optimised_sagemaker_error(ex))
        return original_from_error(self, env, ex)

    def ecs_from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            return failure_event(self, env, *optimised_ecs_error(ex))
        return original_ecs_from_error(self, env, ex)

    def build_sync_resolver(self: Any, *args: Any, **kwargs: Any) -> Callable[[], Any] | None:
        env: Any = kwargs.get("env", args[0] if args else None)
        submitted = env.stack[-1]["Tasks"][0]  # RunTask's answer, which the original resolver pops off the stack
        resolve = original_sync_resolver(self, *args, **kwargs)
        # the runner's local client factory, swapped in for the interpreter's (moto declares no __all__)
        ecs = getattr(ecs_module, "boto_client_for")(region="us-east-1", service="ecs", state_credentials=None)  # noqa: B009

        def resolve_like_aws() -> Any:
            task = resolve() if resolve else None
            if isinstance(task, dict) and _failed_container(task):
                raise FailureEventException(failure_event(self, env, "States.TaskFailed", json.dumps(task)))
            return task

        def stop() -> None:
            reason = "Task stopped by AWS Step Functions: its execution ended while it ran"
            ecs.stop_task(cluster=submitted["ClusterArn"], task=submitted["TaskArn"], reason=reason)

        resolve_like_aws.stop = stop  # type: ignore[attr-defined]
        return resolve_like_aws

    added = "sagemaker" not in aws_sdk._SERVICE_ERROR_NAMES
    aws_sdk._SERVICE_ERROR_NAMES["sagemaker"] = "SageMaker"
    try:
        with (
            patched(StateTaskServiceUnsupported, "_from_error", from_error),
            patched(StateTaskServiceEcs, "_from_error", ecs_from_error),
            patched(StateTaskServiceEcs, "_build_sync_resolver", build_sync_resolver),
            stopping_like_aws(StateTaskServiceEcs),
            patched(iteration_worker, "CustomErrorName", iteration_error_name),
        ):
            yield
    finally:
        if added:
            del aws_sdk._SERVICE_ERROR_NAMES["sagemaker"]
