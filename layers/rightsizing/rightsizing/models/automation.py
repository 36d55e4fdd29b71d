"""What starts a run without a person: a schedule's period (EventBridge Scheduler) or an approved model package version
(the SageMaker Model Registry's state-change event), and the run id each one gets.

Both run ids are deterministic, so a delivery that is retried (Scheduler's retry policy, Lambda's asynchronous
retries, SageMaker sending several events for one state change) asks Step Functions for the same execution name,
which it starts at most once: names stay taken for 90 days.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.exceptions import InvalidRequest

MAX_RUN_ID = 80  # Step Functions execution names
PERIOD_FORMAT = "%Y%m%d%H%M"  # 12 digits: a period is at least a minute (Scheduler's smallest rate)
# Letters, digits and inner hyphens, like every run id the CLI makes; 64 is Scheduler's own limit on names, and
# <name>-<12 digits> then stays within the 80 characters of an execution name.
SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$")
SCHEDULE_NAME_RULE = "1-64 letters, digits and hyphens, starting and ending with a letter or digit"
# The stack's own schedule (template parameter DefaultScheduleExpression); the CLI may replace only its request.
DEFAULT_SCHEDULE = "default"
# Scheduler replaces this with the period's time, e.g. 2026-01-05T02:00:00Z, in a target's Input.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
REQUEST_NAME_LENGTH = 40  # RightsizingRequest.name


def check_schedule_name(name: str, field: str = "name") -> str:
    if not SCHEDULE_NAME.match(name):
        raise InvalidRequest(field, f"'{name}' is not a valid schedule name: {SCHEDULE_NAME_RULE}")
    return name


def schedule_request_key(schedule_name: str) -> str:
    """Where a schedule's request is kept in the results bucket (outside runs/, which expires)."""
    return f"schedules/{schedule_name}.json"


def profile_key(model_package_group: str) -> str:
    """Where the registry trigger reads a model package group's profile in the results bucket."""
    return f"profiles/{model_package_group}.json"


def scheduler_input(schedule_name: str, request_uri: str) -> str:
    """The schedule target's Input: Scheduler fills in the period's time at each invocation."""
    return json.dumps({"schedule_name": schedule_name, "scheduled_time": SCHEDULED_TIME, "request_uri": request_uri})


def scheduled_run_id(schedule_name: str, scheduled_time: datetime) -> str:
    """``<schedule name>-<period start, UTC, yyyymmddHHMM>``: one run id per period."""
    when = scheduled_time if scheduled_time.tzinfo else scheduled_time.replace(tzinfo=UTC)
    return f"{schedule_name}-{when.astimezone(UTC).strftime(PERIOD_FORMAT)}"


def registry_run_id(model_package_group: str, version: int) -> str:
    """``<model package group>-v<version>``: one run per package version (the group is cut to fit 80 characters)."""
    suffix = f"-v{version}"
    return model_package_group[: MAX_RUN_ID - len(suffix)].rstrip("-") + suffix


def request_name_for(model_package_group: str) -> str:
    """A request name (at most 40 characters) for a group whose profile names none."""
    return model_package_group[:REQUEST_NAME_LENGTH].rstrip("-")


class ScheduledRunEvent(BaseModel):
    """What a schedule sends its target (``scheduler_input`` after Scheduler's substitution)."""

    model_config = ConfigDict(extra="ignore")
    schedule_name: str = Field(min_length=1)
    scheduled_time: datetime = Field(description="The period's time as Scheduler gives it (UTC, ISO 8601).")
    request_uri: str = Field(pattern=r"^s3://[^/]+/.+\.json$")


class ModelPackageDetail(BaseModel):
    """``detail`` of a "SageMaker Model Package State Change" event (the fields the trigger reads)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    group: str = Field(alias="ModelPackageGroupName", min_length=1)
    version: int = Field(alias="ModelPackageVersion", ge=1)
    arn: str = Field(alias="ModelPackageArn", min_length=1)
    approval_status: str | None = Field(None, alias="ModelApprovalStatus")
    package_status: str | None = Field(None, alias="ModelPackageStatus")


class ModelPackageStateChange(BaseModel):
    """The EventBridge event SageMaker sends when a model package is created or its approval changes."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    source: str
    detail_type: str = Field(alias="detail-type")
    region: str
    detail: ModelPackageDetail


class TriggerOutcome(BaseModel):
    """What a trigger did: started a run, found its period's run already started, or started nothing and why."""

    model_config = ConfigDict(extra="forbid")
    started: bool
    run_id: str | None = None
    execution_arn: str | None = None
    already_started: bool = Field(False, description="Step Functions refused the name: this run was started before.")
    reason: str


@dataclass(frozen=True)
class StartedRun:
    execution_arn: str
    already_started: bool


RATE = re.compile(r"^(\d+) (minute|minutes|hour|hours|day|days)$")
RATE_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
MIN_RATE_MINUTES = 60  # a run takes minutes to hours and costs endpoint time: refuse a schedule that piles them up


def schedule_expression(cron: str | None, rate: str | None) -> str:
    """``cron(...)`` or ``rate(...)`` as EventBridge Scheduler takes it, from the CLI's ``--cron``/``--rate``."""
    if (cron is None) == (rate is None):
        raise InvalidRequest("--cron/--rate", "give exactly one of --cron and --rate")
    if rate is not None:
        found = RATE.match(rate.strip())
        if not found:
            raise InvalidRequest("--rate", f"'{rate}' is not '<number> minutes|hours|days' (e.g. '7 days')")
        value, unit = int(found[1]), found[2]
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise InvalidRequest("--rate", f"'{rate}': use the singular unit for 1 and the plural otherwise")
        if value * RATE_MINUTES[unit.rstrip("s")] < MIN_RATE_MINUTES:
            raise InvalidRequest("--rate", f"'{rate}' is more often than once an hour: a run takes longer than that")
        return f"rate({value} {unit})"
    assert cron is not None
    fields = cron.split()
    if len(fields) != 6:
        raise InvalidRequest(
            "--cron",
            f"'{cron}' has {len(fields)} fields; Scheduler's cron has 6: minutes hours day-of-month month "
            "day-of-week year (e.g. '0 2 ? * MON *')",
        )
    if (fields[2] == "?") == (fields[4] == "?"):
        raise InvalidRequest("--cron", f"'{cron}': exactly one of day-of-month and day-of-week must be '?'")
    if fields[0] in ("*", "?") or "/" in fields[0] or "," in fields[0] or "-" in fields[0]:
        raise InvalidRequest("--cron", f"'{cron}' runs more than once an hour: give the minute as one number")
    return f"cron({' '.join(fields)})"
