"""Run ids of the automatic starts and the schedule expressions the CLI accepts (rightsizing.models.automation)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.automation import (
    check_schedule_name,
    registry_run_id,
    request_name_for,
    schedule_expression,
    scheduled_run_id,
)
from rightsizing.models.plan import check_run_id
from rightsizing.models.request import RightsizingRequest


def test_the_longest_schedule_name_still_makes_a_valid_run_id() -> None:
    name = check_schedule_name("a" * 64)
    run_id = scheduled_run_id(name, datetime(2026, 1, 5, 2, 0, 59, tzinfo=UTC))
    assert run_id == f"{name}-202601050200" and len(run_id) == 77
    check_run_id(run_id)
    assert scheduled_run_id("n", datetime(2026, 1, 5, 2, 0)) == "n-202601050200"  # no zone given: UTC


def test_a_registry_run_id_cuts_a_long_group_and_keeps_the_version() -> None:
    group = "g" + "-x" * 31  # 63 characters, SageMaker's longest group name
    run_id = registry_run_id(group, 123456)
    assert run_id.endswith("-v123456") and len(run_id) <= 80 and "--v" not in run_id
    check_run_id(run_id)
    name = request_name_for(group)
    assert len(name) <= 40 and not name.endswith("-")
    pattern = next(m.pattern for m in RightsizingRequest.model_fields["name"].metadata if hasattr(m, "pattern"))
    assert re.fullmatch(pattern, name), name  # the request's own name rule


@pytest.mark.parametrize(
    ("cron", "rate", "expression"),
    [
        ("0 2 ? * MON *", None, "cron(0 2 ? * MON *)"),
        ("30 6 1 * ? *", None, "cron(30 6 1 * ? *)"),
        (None, "1 hour", "rate(1 hour)"),
        (None, "7 days", "rate(7 days)"),
        (None, "90 minutes", "rate(90 minutes)"),
    ],
)
def test_valid_schedules_become_scheduler_expressions(cron: str | None, rate: str | None, expression: str) -> None:
    assert schedule_expression(cron, rate) == expression


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a.b", "a" * 65])
def test_schedule_names_outside_run_id_rules_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="schedule name"):
        check_schedule_name(name)
