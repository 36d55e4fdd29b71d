"""Run the job's search ``load.trials`` times on one probe (the same generator, users and endpoint).

The candidate's time limit bounds the whole: each trial gets an equal share of what is left, under its own hard
deadline, and a trial that overruns leaves less to the next. Every trial is a whole search (warm-up included), so
the trials are replicates of one procedure, as a t interval assumes (docs/load-search.md). One trial is the plain
search, with no statistics.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent

from rightsizing.models.plan import LoadTestJob
from rightsizing.models.result import ProbeRecord
from rightsizing.search import GeneratorProbe, SearchOutcome, strategy_for, summarize
from rightsizing.search.trials import MIN_SECONDS_LEFT, combine_outcomes, trial_budget
from rightsizing_loadtest.job_io import emit
from rightsizing_loadtest.timing import Timing

ProbeSink = Callable[[ProbeRecord], None]


def run_trials(job: LoadTestJob, probe: GeneratorProbe, timing: Timing, on_probe: ProbeSink) -> SearchOutcome:
    """The search's outcome, or with ``load.trials`` > 1 the trials' combined one (``outcome.trials`` set)."""
    slack = timing.hard_deadline - timing.search_budget  # how far past its budget a step may run before it is cut
    trials = job.load.trials
    if trials == 1:
        return _one(job, probe, timing.search_budget, slack, on_probe)
    started = time.monotonic()
    outcomes: list[SearchOutcome] = []
    seconds: list[float] = []
    for number in range(1, trials + 1):
        remaining = timing.search_budget - (time.monotonic() - started)
        if outcomes and remaining < MIN_SECONDS_LEFT:
            emit("trial", trial=number, trials=trials, skipped=True, remaining_seconds=round(max(remaining, 0), 1))
            break
        budget = trial_budget(remaining, trials - number + 1)
        emit("trial", trial=number, trials=trials, budget_seconds=round(budget, 1))
        trial_started = time.monotonic()

        def labelled(record: ProbeRecord, number: int = number) -> None:
            on_probe(record.model_copy(update={"trial": number}))

        outcome = _one(job, probe, budget, slack, labelled)
        outcomes.append(outcome)
        seconds.append(time.monotonic() - trial_started)
    return combine_outcomes(outcomes, seconds, trials)


def _one(job: LoadTestJob, probe: GeneratorProbe, budget: float, slack: float, on_probe: ProbeSink) -> SearchOutcome:
    """One search within ``budget`` seconds, cut off ``slack`` seconds past it if a step overruns."""
    strategy = strategy_for(job.load, job.sla, job.max_error_rate)
    records: list[ProbeRecord] = []

    def seen(record: ProbeRecord) -> None:
        records.append(record)
        on_probe(record)

    started = time.monotonic()
    deadline = gevent.Timeout(budget + slack)
    deadline.start()
    try:
        return strategy.run(probe, budget, on_probe=seen)
    except gevent.Timeout as timeout:
        if timeout is not deadline:
            raise
        return summarize(
            records,
            f"Hard deadline: a step overran the time budget, so the search was cut off after "
            f"{time.monotonic() - started:.1f} s (the job allows {job.max_seconds} s in all); the step in progress "
            "was discarded.",
        )
    finally:
        deadline.close()
