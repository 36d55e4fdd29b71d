"""Step Functions history-event arithmetic: how often to poll so a run stays under the execution's event limit.

A Standard execution fails outright at 25,000 history events, and an inline Map's iterations all count toward the
parent's total. Each candidate costs a fixed number of events plus a few per endpoint poll (and per refused
DeleteEndpoint retry), so the poll interval is chosen from the run's worst case: every candidate waiting its whole
``max_endpoint_wait_seconds`` for InService and as long again for its delete. The constants below are counted
from ``statemachine/rightsizing.asl.json`` (tests/aws/test_history_budget.py recounts them from the definition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.request import RightsizingRequest

HISTORY_EVENT_LIMIT = 25_000
# Planned worst case stays below this; the rest absorbs Retry attempts (3 events each) and throttled polls.
HISTORY_EVENT_BUDGET = 20_000
MAX_POLL_SECONDS = 600

# Events per state as Step Functions records them: Pass/Wait/Choice enter+exit (2); a Task enters, is scheduled,
# starts, succeeds or fails, exits (5); a .sync Task adds TaskSubmitted (6); a Map iteration starts and ends (2).
EVENTS_PASS = 2
EVENTS_TASK = 5
EVENTS_SYNC_TASK = 6
# Execution started/succeeded (2), PlanRun (5), Map state entered/started/succeeded/exited (4), Recommend (5),
# PublishResult (5), RunFinished (Succeed).
EVENTS_RUN_FIXED = 2 + EVENTS_TASK + 4 + EVENTS_TASK + EVENTS_TASK + EVENTS_PASS
# The longest path without polls: iteration start/end (2); StartCandidate, IsWithinBudget, IsExistingEndpoint,
# CreateModel, CreateEndpointConfig, CreateEndpoint; RunLoadTest (.sync); Cleanup, DeleteEndpoint, DeleteEndpointConfig,
# DeleteModel; HasOutcome, WaitForMetrics, CollectMetrics; and when CollectMetrics fails, RecordFailure and (if that
# fails too) FailureNotRecorded; CandidateDone. A failure earlier on skips at least as many states as it adds.
EVENTS_CANDIDATE_FIXED = (
    2
    + EVENTS_PASS * 3
    + EVENTS_TASK * 3
    + EVENTS_SYNC_TASK
    + EVENTS_PASS
    + EVENTS_TASK * 3
    + EVENTS_PASS * 2
    + EVENTS_TASK
    + EVENTS_TASK
    + EVENTS_PASS
    + EVENTS_PASS
)
# One poll: DescribeEndpoint (Task), CountPoll (Pass), IsEndpointReady (Choice), WaitForEndpoint (Wait).
EVENTS_PER_POLL = EVENTS_TASK + 3 * EVENTS_PASS
# One refused delete: DeleteEndpoint fails (Task), IsEndpointGone (Choice), CountDeleteAttempt (Pass),
# CanRetryDelete (Choice), WaitBeforeDeleteRetry (Wait).
EVENTS_PER_DELETE_RETRY = EVENTS_TASK + 4 * EVENTS_PASS


@dataclass(frozen=True)
class PollSchedule:
    poll_seconds: int
    max_polls: int
    max_delete_attempts: int


def candidate_events(polls: int, delete_attempts: int) -> int:
    """History events of one candidate that polled ``polls`` times and needed ``delete_attempts`` deletes."""
    return EVENTS_CANDIDATE_FIXED + polls * EVENTS_PER_POLL + (delete_attempts - 1) * EVENTS_PER_DELETE_RETRY


def run_events(candidates: int, polls: int, delete_attempts: int) -> int:
    return EVENTS_RUN_FIXED + candidates * candidate_events(polls, delete_attempts)


def worst_case_events(candidates: int, wait_seconds: int, poll_seconds: int) -> int:
    """Every candidate waits the whole bound for InService, then as long again for its delete."""
    polls = math.ceil(wait_seconds / poll_seconds)
    return run_events(candidates, polls, polls)


def poll_schedule(request: RightsizingRequest, default_poll_seconds: int, budget: int | None) -> PollSchedule:
    """The poll interval for this run: the requested (or default) one, widened when the worst case needs it.

    ``budget`` None (local mode) means no event limit applies. An explicit ``limits.poll_seconds`` that the budget
    cannot afford is refused rather than silently changed.
    """
    wait = request.limits.max_endpoint_wait_seconds
    candidates = len(request.variants())
    poll = request.limits.poll_seconds or default_poll_seconds
    if budget is not None and worst_case_events(candidates, wait, poll) > budget:
        if request.limits.poll_seconds is not None:
            raise InvalidRequest(
                "limits.poll_seconds",
                f"{poll} s polls of {candidates} candidates waiting up to "
                f"{wait} s could exceed Step Functions' {HISTORY_EVENT_LIMIT:,} history events per execution; "
                f"poll at least every {_smallest_affordable(candidates, wait, budget)} s or leave it unset",
            )
        poll = _smallest_affordable(candidates, wait, budget)
    polls = math.ceil(wait / poll)
    return PollSchedule(poll_seconds=poll, max_polls=polls, max_delete_attempts=polls)


def _smallest_affordable(candidates: int, wait: int, budget: int) -> int:
    for poll in range(1, MAX_POLL_SECONDS + 1):
        if worst_case_events(candidates, wait, poll) <= budget:
            return poll
    raise InvalidRequest(
        "limits.max_endpoint_wait_seconds",
        f"{candidates} candidates waiting up to {wait} s cannot "
        f"stay under Step Functions' {HISTORY_EVENT_LIMIT:,} history events even polling every {MAX_POLL_SECONDS} s; "
        "lower the wait or split the candidates over several runs",
    )
