"""ECS tasks of one cluster: the calls the load-test master (its worker tasks) and the sweeper share.

One error policy for every call: a throttle becomes ``AwsThrottled``, a missing permission ``AwsAccessDenied``
(``adapters.errors.translate``), any other API or transport failure ``EcsCallFailed``; all three are
``RightsizingError``, so a caller that carries on past an ECS failure catches one type. ``stop`` tries every task:
one that cannot be stopped does not keep the others running.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.adapters.errors import error_code, error_message, translate
from rightsizing.exceptions import RightsizingError

DESCRIBE_BATCH = 100  # DescribeTasks: "a list of up to 100 task IDs or full ARN entries"
REASON_MAX = 255  # StopTask: "up to 255 characters are allowed" in the reason


class EcsCallFailed(RightsizingError):
    """An ECS call failed for a reason other than throttling or permissions (after the SDK's own retries)."""


class EcsTasks:
    """``client``: an ``ecs`` client (tests pass a Stubber'd one or a stand-in); default: ``aws_client("ecs")``."""

    def __init__(self, cluster: str, client: Any = None, region: str | None = None) -> None:
        self.cluster = cluster
        self._client = client if client is not None else aws_client("ecs", region)

    def run(self, **params: Any) -> dict[str, Any]:
        """RunTask in this cluster; the response as ECS gives it (``tasks`` and ``failures``)."""
        response: dict[str, Any] = self._call("run_task", "RunTask", cluster=self.cluster, **params)
        return response

    def started_by(self, started_by: str) -> list[str]:
        """ARNs of the running tasks started with ``started_by`` (ListTasks lists RUNNING tasks by default;
        ``startedBy`` must be its only filter)."""
        try:
            pages = self._client.get_paginator("list_tasks").paginate(cluster=self.cluster, startedBy=started_by)
            return [arn for page in pages for arn in page.get("taskArns", [])]
        except (ClientError, BotoCoreError) as e:
            _raise_translated(e, f"ECS ListTasks startedBy {started_by}")

    def describe(self, arns: Sequence[str], *, tags: bool = False) -> list[dict[str, Any]]:
        """DescribeTasks, in batches of ``DESCRIBE_BATCH``; ``tags``: include each task's tags."""
        include = {"include": ["TAGS"]} if tags else {}
        described: list[dict[str, Any]] = []
        for batch in _batches(arns, DESCRIBE_BATCH):
            response = self._call("describe_tasks", "DescribeTasks", cluster=self.cluster, tasks=batch, **include)
            described.extend(response.get("tasks", []))
        return described

    def stop(self, arns: Iterable[str], reason: str) -> dict[str, RightsizingError]:
        """StopTask each of ``arns``; returns the tasks that could not be stopped, with why (empty: all stopped)."""
        failed: dict[str, RightsizingError] = {}
        for arn in arns:
            try:
                self._call("stop_task", f"StopTask {arn}", cluster=self.cluster, task=arn, reason=reason[:REASON_MAX])
            except RightsizingError as e:
                failed[arn] = e
        return failed

    def _call(self, operation: str, doing: str, **params: Any) -> Any:
        try:
            return getattr(self._client, operation)(**params)
        except (ClientError, BotoCoreError) as e:
            _raise_translated(e, f"ECS {doing}")


def _raise_translated(error: ClientError | BotoCoreError, doing: str) -> NoReturn:
    if isinstance(error, ClientError):
        try:
            translate(error, doing)  # AwsThrottled, AwsAccessDenied, or the ClientError itself
        except ClientError:
            raise EcsCallFailed(f"{doing}: {error_code(error)}: {error_message(error)}") from error
    raise EcsCallFailed(f"{doing}: {error}") from error


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
