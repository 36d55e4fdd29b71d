"""``rightsize schedule create|list|delete``: re-run a request on a schedule (EventBridge Scheduler) on the stack.

A schedule lives in the stack's schedule group (output ``ScheduleGroupName``), runs as the stack's ``SchedulerRole``
and invokes ``StartScheduledRunFunction``, which starts the request stored at
``s3://<ResultsBucketName>/schedules/<name>.json`` as run ``<name>-<period start, UTC, yyyymmddHHMM>``: a delivery
that is retried asks for the same execution name and starts nothing new.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape
from rich.table import Table

from rightsizing.exceptions import InvalidRequest, RightsizingError
from rightsizing.models.automation import (
    DEFAULT_SCHEDULE,
    check_schedule_name,
    schedule_expression,
    schedule_request_key,
    scheduled_run_id,
    scheduler_input,
)
from rightsizing_cli.aws_context import (
    AwsContext,
    ProfileOption,
    RegionOption,
    StackOption,
    opened_stack,
)
from rightsizing_cli.emit import Output, OutputFormat, OutputOption
from rightsizing_cli.exit_codes import ExitCode
from rightsizing_cli.run_names import execution_input

schedule_app = typer.Typer(
    no_args_is_help=True, help="Re-run a request on a schedule on the deployed stack (EventBridge Scheduler)."
)
NameArgument = Annotated[str, typer.Argument(help="Schedule name: its runs are <name>-<yyyymmddHHMM> (UTC).")]


@schedule_app.command("create")
def create(
    name: NameArgument,
    file: Annotated[Path, typer.Argument(help="Request JSON file (AWS instance types), as for rightsize start.")],
    cron: Annotated[
        str | None, typer.Option("--cron", help="Scheduler cron fields, e.g. '0 2 ? * MON *' (Mondays 02:00).")
    ] = None,
    rate: Annotated[str | None, typer.Option("--rate", help="e.g. '7 days' (at least an hour).")] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone of a --cron schedule.")] = "UTC",
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Run FILE every period; without --cron/--rate, replace the request of an existing schedule (e.g. the stack's
    'default' one, set by DefaultScheduleExpression)."""
    from rightsizing_cli.main import load_request_file  # the very checks `validate` and `start` make

    out = Output(output)
    try:
        check_schedule_name(name, "NAME")
        expression = None if cron is None and rate is None else schedule_expression(cron, rate)
        if name == DEFAULT_SCHEDULE and expression is not None:
            raise InvalidRequest(
                "NAME", "'default' is the stack's schedule (DefaultScheduleExpression): omit --cron/--rate to "
                "store its request, or pick another name"
            )  # fmt: skip
        _check_timezone(timezone)
        request = load_request_file(file)
        if request.is_local:
            raise InvalidRequest("FILE", f"{file} benchmarks local profiles: only ml.* instance types run on AWS")
        input_json = execution_input(request)
    except RightsizingError as e:
        out.fail(str(e), ExitCode.INVALID)
    with opened_stack(out, profile, region, stack, fallback_region=request.region) as ctx:
        if request.region != ctx.region:
            out.fail(
                f"the request's region is {request.region} but the stack is used in {ctx.region}: the state machine "
                "creates endpoints in its own region"
            )
        _create(out, ctx, name, expression, timezone, request.name, input_json)


def _create(
    out: Output, ctx: AwsContext, name: str, expression: str | None, timezone: str, label: str, input_json: str
) -> None:
    from rightsizing.adapters import schedules

    scheduler, group = ctx.client("scheduler"), ctx.output("ScheduleGroupName")
    bucket = ctx.output("ResultsBucketName")
    key = schedule_request_key(name)
    request_uri = f"s3://{bucket}/{key}"
    existing = schedules.get_schedule(scheduler, group, name)
    if expression is None and existing is None:
        out.fail(f"no schedule {name} in {group}: give --cron or --rate to create it")
    if expression is not None and existing is not None:
        out.fail(f"schedule {name} exists: rightsize schedule delete {name} first, or omit --cron/--rate to replace "
                 "its request")  # fmt: skip
    s3 = ctx.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=input_json.encode(), ContentType="application/json")
    if expression is not None:
        try:
            schedules.create_schedule(
                scheduler,
                group=group,
                name=name,
                expression=expression,
                timezone=timezone,
                target_arn=ctx.output("StartScheduledRunFunctionArn"),
                role_arn=ctx.output("SchedulerRoleArn"),
                target_input=scheduler_input(name, request_uri),
                description=f"rightsizing request {label}",
            )
        except Exception:
            s3.delete_object(Bucket=bucket, Key=key)  # no schedule, no request left behind
            raise
    schedule = schedules.get_schedule(scheduler, group, name) or {}
    document = {
        "name": name,
        "group": group,
        "expression": schedule.get("ScheduleExpression"),
        "timezone": schedule.get("ScheduleExpressionTimezone"),
        "state": schedule.get("State"),
        "request": label,
        "request_uri": request_uri,
        "created": expression is not None,
    }
    out.document(document)
    verb = "Created schedule" if expression is not None else "Replaced the request of schedule"
    out.console.print(f"[bold]{verb} {name}[/]: {escape(str(document['expression']))} ({document['timezone']})")
    out.console.print(f"  request {label}: {request_uri}", soft_wrap=True)
    example = scheduled_run_id(name, datetime.now(UTC))
    out.console.print(f"  each period starts run {name}-<yyyymmddHHMM, UTC> (e.g. {example}); see rightsize list")


@schedule_app.command("list")
def list_schedules(
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """The stack's schedules: expression, time zone, state and the request each one starts."""
    from rightsizing.adapters import schedules

    out = Output(output)
    with opened_stack(out, profile, region, stack) as ctx:
        scheduler, group = ctx.client("scheduler"), ctx.output("ScheduleGroupName")
        found = []
        for summary in schedules.list_schedules(scheduler, group):
            schedule = schedules.get_schedule(scheduler, group, summary["Name"]) or summary
            found.append(
                {
                    "name": summary["Name"],
                    "expression": schedule.get("ScheduleExpression"),
                    "timezone": schedule.get("ScheduleExpressionTimezone"),
                    "state": schedule.get("State"),
                    "request_uri": _request_uri(schedule),
                }
            )
    out.document({"group": group, "schedules": found})
    if out.is_json:
        return
    if not found:
        out.console.print(f"No schedules in {group}: rightsize schedule create NAME FILE --rate '7 days'")
        return
    table = Table("schedule", "expression", "time zone", "state", "request")
    for item in found:
        table.add_row(*(escape(str(item[k] or "")) for k in ("name", "expression", "timezone", "state", "request_uri")))
    out.console.print(table)


@schedule_app.command("delete")
def delete(
    name: NameArgument,
    stack: StackOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Delete a schedule and its stored request (runs it started are kept)."""
    from rightsizing.adapters import schedules

    out = Output(output)
    try:
        check_schedule_name(name, "NAME")
    except RightsizingError as e:
        out.fail(str(e), ExitCode.INVALID)
    if name == DEFAULT_SCHEDULE:
        out.fail("'default' belongs to the stack: set DefaultScheduleExpression to '' and sam deploy to remove it")
    with opened_stack(out, profile, region, stack) as ctx:
        group = ctx.output("ScheduleGroupName")
        if not schedules.delete_schedule(ctx.client("scheduler"), group, name):
            out.fail(f"no schedule {name} in {group} (rightsize schedule list)")
        ctx.client("s3").delete_object(Bucket=ctx.output("ResultsBucketName"), Key=schedule_request_key(name))
    out.document({"name": name, "group": group, "deleted": True})
    out.console.print(f"Deleted schedule {name} and its stored request")


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest("--timezone", f"'{timezone}' is not an IANA time zone (e.g. UTC, Europe/Paris)") from None


def _request_uri(schedule: dict[str, Any]) -> str | None:
    try:
        uri = json.loads(schedule.get("Target", {}).get("Input", "")).get("request_uri")
    except (ValueError, AttributeError):
        return None
    return str(uri) if uri else None
