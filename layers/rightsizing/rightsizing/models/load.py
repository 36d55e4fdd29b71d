"""How the load generator searches: the request's ``load`` field (mode, step sizes, traffic phases, generator size).

Mode ``phases`` mirrors SageMaker Inference Recommender's advanced job. Field semantics confirmed against the AWS API
reference (CreateInferenceRecommendationsJob ``TrafficPattern`` with ``TrafficType: PHASES``):

- ``Phase``: ``InitialNumberOfUsers`` = concurrent users to start with (integer ≥ 1; IR itself wants 1-3),
  ``SpawnRate`` = new users spawned per *minute* (integer ≥ 0), ``DurationInSeconds`` = length of the phase
  (IR: 120-3600 s for custom load tests).
- ``RecommendationJobStoppingConditions``: ``MaxInvocations`` = the maximum requests per *minute* expected for the
  endpoint; ``ModelLatencyThresholds`` = exactly one ``{Percentile ("P95"/"P99"), ValueInMilliseconds}``.

Differences here, on purpose: phases may be shorter than 120 s (local tests), the users start at any count up to
``max_users``, and the latency threshold is client-side (what callers see) rather than IR's model latency as viewed
from SageMaker; it uses the request's SLA percentile and defaults to the SLA itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from rightsizing.models.common import StrictModel
from rightsizing.models.messages import FieldProblem

LoadMode = Literal["adaptive", "ramp", "stepped", "phases"]
MAX_PHASES = 20
MAX_TRIALS = 10  # a t interval gains little past 10, and each trial shares one candidate's time limit


class Phase(BaseModel):
    """One traffic phase: closed-loop users start at ``initial_users`` and grow at ``spawn_rate_per_minute``."""

    model_config = StrictModel
    initial_users: int = Field(
        1, ge=1, le=100_000, description="Concurrent users at the start of the phase (IR: InitialNumberOfUsers)."
    )
    spawn_rate_per_minute: int = Field(
        0, ge=0, le=60_000, description="New users added per minute during the phase; 0 = constant (IR: SpawnRate)."
    )
    duration_seconds: float = Field(
        gt=0, le=3600, description="Length of the phase in measured seconds (IR: DurationInSeconds)."
    )


def _default_phases() -> list[Phase]:
    # One 2-minute phase from 1 user, one more user per second: up to ~121 users, within the default time limit.
    return [Phase(initial_users=1, spawn_rate_per_minute=60, duration_seconds=120)]


class PhaseStop(BaseModel):
    """Mode 'phases' stopping conditions (IR: RecommendationJobStoppingConditions); phases also end the test."""

    model_config = StrictModel
    max_invocations_per_minute: int | None = Field(
        None,
        ge=1,
        le=60_000_000,
        description="Stop once a slice completes this many successful requests per minute (IR: MaxInvocations).",
    )
    latency_ms: float | None = Field(
        None,
        gt=0,
        le=60_000,
        description="Stop once a slice's latency at sla.percentile exceeds this (IR: ModelLatencyThresholds); "
        "default: sla.milliseconds. Slices are still judged against the SLA for the answer.",
    )


class LoadSettings(BaseModel):
    model_config = StrictModel
    mode: LoadMode = Field(
        "adaptive",
        description="'adaptive': warm-up, closed-loop ceiling probe, then an open-loop (fixed arrival rate) search "
        "for the highest rate within the SLA, to `precision`. 'ramp': the classic baseline — users ramped linearly "
        "(5/s, think time 0.25-0.5 s) until >= 1 % failures; ignores the SLA. 'stepped': closed-loop user steps "
        "1, 2, 4, … until the SLA breaks or throughput stops growing. 'phases': Inference Recommender-style "
        "traffic phases — closed-loop users start at each phase's initial_users and grow at its "
        "spawn_rate_per_minute, measured in slices of ~step_seconds, until a `stop` condition fires or the phases "
        "end; the answer is the best slice within the SLA.",
    )
    step_seconds: float = Field(
        2.0, ge=1, le=600, description="Measured seconds per closed-loop step (mode 'phases': per slice)."
    )
    max_users: int = Field(256, ge=1, le=100_000, description="Cap on concurrent closed-loop users.")
    warmup_seconds: float = Field(
        3.0,
        ge=0,
        le=600,
        description="Adaptive: longest warm-up at one user, discarded; it ends sooner once two half-second chunks "
        "agree on the median latency.",
    )
    precision: float = Field(0.05, gt=0, le=0.5, description="Adaptive: stop when the pass/fail bracket is this tight.")
    min_completions: int = Field(
        600,
        ge=50,
        le=1_000_000,
        description="Adaptive: completions an open-loop probe plans for (tail statistics need ~100); a probe whose "
        "pass is already clear stops sooner (fail_fast).",
    )
    min_probe_seconds: float = Field(
        1.0,
        ge=1,
        le=600,
        description="Adaptive: shortest open-loop probe, early pass included; probes also run long enough that an "
        "overload of half the precision would break the SLA. Raise it for an endpoint whose speed varies over "
        "seconds: a short probe can pass a rate that fails over 30 s (docs/load-search.md).",
    )
    max_probe_seconds: float = Field(30.0, ge=2, le=600, description="Adaptive: cap on one open-loop probe.")
    fail_fast: bool = Field(
        True,
        description="Adaptive: end an open-loop probe as soon as its failure is certain (more requests over the SLA "
        "or failed than the whole probe may have), or its pass clear (none failed and, at 95 % confidence, fewer "
        "over the SLA than the percentile allows), instead of running it to the end. Not applied across "
        "distributed workers.",
    )
    confirm_seconds: float = Field(
        0.0,
        ge=0,
        le=600,
        description="Adaptive: before it is reported, re-measure the answer with one open-loop probe this long "
        "(capped by max_probe_seconds; 0 = off, the default). Short probes can over-state what a server whose speed "
        "varies over seconds holds for half a minute; if the long probe fails, the next runs one precision step "
        "lower (two when its queue grew fast), at most 5 in all. It roughly doubled the test time and biased "
        "steady servers' answers ~3 % low in benchmarks/capacity_accuracy.py (docs/load-search.md).",
    )
    phases: list[Phase] = Field(
        default_factory=_default_phases,
        max_length=MAX_PHASES,
        description="Mode 'phases': the traffic phases, run in order (IR: TrafficPattern.Phases). Default: one "
        "120 s phase from 1 user, 60 new users per minute.",
    )
    stop: PhaseStop = Field(default_factory=PhaseStop, description="Mode 'phases': the stopping conditions.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Load-generator processes to start with. 1 (and no max_workers above 1) runs Locust "
        "in-process; more run Locust's master/worker mode inside the load-test task, one process per worker.",
    )
    max_workers: int | Literal["auto"] | None = Field(
        None,
        description="When a probe finds the generator saturated (CPU > 90 % or > 1 % late sends), add worker "
        "processes up to this many and re-measure; 'auto' = the CPUs available to the load-test task. "
        "Default: workers (no scaling).",
    )
    worker_placement: Literal["processes", "tasks"] = Field(
        "processes",
        description="Where distributed workers run: 'processes' inside the load-test task (size LoadTestCpu to "
        "them), or 'tasks' = one 1-vCPU Fargate task per worker, beside the master task, for loads one task "
        "(at most 16 vCPU) cannot produce. AWS only; worker tasks take 20-90 s to start, within max_seconds.",
    )

    trials: int = Field(
        1,
        ge=1,
        le=MAX_TRIALS,
        description="Run the capacity search this many times against the same endpoint, within "
        "limits.max_seconds_per_candidate (shared equally); the figure is then their mean with a Student's t 95 % "
        "interval and the spread. 1 = one search, no interval. Every trial is a whole search, so N trials take "
        "about N times as long (docs/load-search.md).",
    )

    @field_validator("phases")
    @classmethod
    def _phases(cls, value: list[Phase], info: ValidationInfo) -> list[Phase]:
        # Other modes ignore the phases, so an empty list only matters (and is only refused) in mode 'phases'.
        if not value and info.data.get("mode") == "phases":
            raise ValueError("mode 'phases' needs at least one phase")
        return value

    @field_validator("max_workers")
    @classmethod
    def _max_workers(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and not 1 <= value <= 64:
            raise ValueError("must be between 1 and 64, or 'auto'")
        return value

    @model_validator(mode="after")
    def _workers(self) -> LoadSettings:
        if isinstance(self.max_workers, int) and self.max_workers < self.workers:
            raise FieldProblem("max_workers", f"{self.max_workers} is below workers ({self.workers})")
        if self.mode == "ramp" and self.distributed:
            raise FieldProblem(
                "mode",
                "'ramp' is the single-process classic baseline: use workers 1, max_workers 1 and "
                "worker_placement 'processes'",
            )
        if self.worker_placement == "tasks" and self.max_workers == "auto":
            raise FieldProblem(
                "max_workers", "'auto' counts the load-test task's CPUs: with worker_placement 'tasks' give a number"
            )
        return self

    @property
    def distributed(self) -> bool:
        """Locust master/worker processes rather than one in-process generator."""
        return self.workers > 1 or self.max_workers not in (None, 1) or self.worker_placement == "tasks"
