"""Results: one load test, one candidate, the recommendation and the whole run (the output contract)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.models.common import CandidateStatus, LatencyPercentiles
from rightsizing.models.cost import CandidateUsage, RunCost
from rightsizing.models.knee import KneeCurve, KneeSummary
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import SizingOptions
from rightsizing.models.serverless import ColdStart, ServerlessSizing
from rightsizing.models.targets import LatencySla, TrafficTarget
from rightsizing.models.trials import TrialStats

# Minor versions only add optional fields (and values). 2.0: the target and the SLA are the request's own objects
# (`traffic`, `sla`) instead of the flat target_rps/min_rps/sla_percentile/sla_ms. 2.1: a generator-limited figure is
# a lower bound (`lower_bound`, candidate status "lower_bound"); probes say when they were re-measured.
# 2.2: a candidate the budget did not allow is "skipped" (failure_reason says why). 2.3: `cost`, the run's measured
# cost beside its estimate, and each candidate's measured `usage` (endpoint and task seconds, transitions).
# 2.4: serverless candidates: `cold_start` per candidate, `serverless` on the recommendation and its alternatives
# (the cost at the target rate).
# 2.5: repeated trials (`trials`: each trial's figure, their mean, 95 % interval and spread) on the load
# test and the candidate; probes say which trial they belong to; `size_on` on the answer.
# 2.6: the knee curve: each candidate's `knee` (its probes as points, capacity at each latency bound) and the
# run's `knee` (the cheapest choice at each bound); probes say when they stopped early and which bound a probe
# added for the curve measured.
RESULT_SCHEMA_VERSION = "2.6"


ProbeKind = Literal["warmup", "closed", "open", "ramp"]


class ProbeRecord(BaseModel):
    """One load step of a search: what was offered and what the endpoint did."""

    model_config = ConfigDict(extra="forbid")
    index: int
    users: int
    seconds: float
    requests: int
    failures: int
    rps: float = Field(description="Completed requests per second during the measured window.")
    error_rate: float
    latency_ms: LatencyPercentiles | None
    generator_cpu_percent: float | None = None
    passed: bool = Field(description="Met the latency SLA and the error limit.")
    note: str = ""
    kind: ProbeKind = Field(
        "closed", description="warmup (discarded), closed loop (users), open loop (fixed arrival rate), ramp (classic)"
    )
    target_rps: float | None = Field(None, description="Offered arrival rate of an open-loop probe.")
    late_share: float | None = Field(None, description="Share of open-loop sends that left later than scheduled.")
    stable: bool | None = Field(None, description="Windows agreed within tolerance (open loop).")
    valid: bool = Field(True, description="False when the load generator, not the endpoint, was the limit.")
    generators: int | None = Field(None, description="Load-generator processes that produced the probe.")
    remeasured: bool = Field(
        False, description="Measured again at the same load because its windows disagreed: not a verdict either way."
    )
    trial: int | None = Field(None, description="Which trial (1-based) the probe belongs to, with load.trials > 1.")
    stopped_early: bool = Field(
        False,
        description="Ended before its planned length (open loop): its failure was certain (fail-fast), or, when "
        "`passed`, its pass was clear (the adaptive search's early pass).",
    )
    knee_bound_ms: float | None = Field(
        None,
        description="A probe added after the search for the knee curve: the latency bound it measured (judged and "
        "stopped early against that bound; `passed` is still the SLA's verdict). Never part of the answer.",
    )


# Beside result.json, written instead of it when the load test fails: {"message": why}, for the failure reason.
LOAD_TEST_FAILURE_FILE = "error.json"


class LoadTestResult(BaseModel):
    """What the load generator writes to ``<results_uri>/result.json``."""

    model_config = ConfigDict(extra="forbid")
    candidate_id: str
    mode: str
    sla: LatencySla
    sustainable_rps: float = Field(description="Highest measured rate with the SLA and error limit met (0 if none).")
    saturation_rps: float = Field(description="Highest rate measured at all: the throughput ceiling seen.")
    latency_at_sustainable: LatencyPercentiles | None
    error_rate_at_sustainable: float | None
    requests: int
    failures: int
    test_seconds: float
    started_epoch: float | None = Field(None, description="Unix time the test started (metrics window).")
    stop_reason: str
    generator_limited: bool = Field(False, description="True when the load generator, not the endpoint, was the limit.")
    lower_bound: bool = Field(
        False,
        description="sustainable_rps is a lower bound: the search ended before it found the capacity (the load "
        "generator was the limit, or the time budget ran out), so the endpoint sustains at least that rate within "
        "the SLA and may sustain more. A lower bound of 0 means not measured, not zero.",
    )
    late_share_at_sustainable: float | None = None
    cold_start: ColdStart | None = Field(None, description="Serverless: the first request, measured apart.")
    trials: TrialStats | None = Field(
        None,
        description="With load.trials > 1: each trial's figure and their mean, 95 % interval and spread; "
        "sustainable_rps is then the mean.",
    )
    probes: list[ProbeRecord]
    artifacts: dict[str, str] = Field(default_factory=dict, description="Name -> store URI of raw artefacts.")


class CandidateResult(BaseModel):
    """One benchmarked candidate (instance type + environment), successful or not."""

    model_config = ConfigDict(extra="forbid")
    candidate_id: str
    instance_type: str
    environment: dict[str, str] = Field(default_factory=dict)
    status: CandidateStatus = Field(
        description="succeeded: measured; lower_bound: sustainable_rps is a floor, the test having ended before it "
        "found the capacity (generator_limited: the load generator could not push harder), so the endpoint may "
        "sustain more; failed: not measured (failure_reason says why); skipped: never deployed, its worst case "
        "would have passed budget_usd (failure_reason says by how much)."
    )
    failure_reason: str | None = None
    sustainable_rps: float | None = Field(
        None, description="Within-SLA rate per instance; with status lower_bound, at least this much."
    )
    saturation_rps: float | None = None
    latency_ms: LatencyPercentiles | None = None
    error_rate: float | None = None
    requests: int | None = None
    test_seconds: float | None = None
    generator_limited: bool = False
    stop_reason: str | None = None
    server_metrics: dict[str, float] = Field(default_factory=dict, description="Endpoint-side metrics, if any.")
    artifacts: dict[str, str] = Field(default_factory=dict)
    usage: CandidateUsage | None = Field(
        None,
        description="What the candidate used, from the state machine's timestamps (None: skipped, or not recorded).",
    )
    cold_start: ColdStart | None = Field(
        None, description="Serverless: the first request after deployment, measured apart, not in the SLA verdict."
    )
    trials: TrialStats | None = Field(
        None,
        description="With load.trials > 1: each trial's figure, their mean (= sustainable_rps), 95 % interval "
        "(ci95_low_rps, ci95_high_rps) and spread (min_rps, max_rps).",
    )
    knee: KneeCurve | None = Field(
        None, description="Latency vs throughput from the probes, and capacity at each knee bound (the SLA's too)."
    )

    @property
    def lower_bound(self) -> bool:
        return self.status == "lower_bound"

    @property
    def floor_cause(self) -> str:
        """Why a lower bound is one (said beside the figure)."""
        if self.generator_limited:
            return "the load generator, not the endpoint, was the limit"
        return "the time budget ran out before the search found the capacity"


class StepFailure(BaseModel):
    """A caught state-machine error (Catch ResultPath), as Step Functions writes it."""

    model_config = ConfigDict(extra="allow")
    Error: str
    Cause: str | None = None


class CandidateOutcome(BaseModel):
    """One Map iteration's output: the plan item plus either measured metrics or the caught failure."""

    model_config = ConfigDict(extra="ignore")
    candidate: dict[str, Any]
    outcome: CandidateResult | StepFailure


class Alternative(BaseModel):
    model_config = ConfigDict(extra="forbid")
    candidate_id: str
    instance_type: str
    environment: dict[str, str] = Field(default_factory=dict)
    instance_count: int | None
    usd_per_hour: float | None
    reason: str
    rank: int | None = Field(None, description="Place among the sized candidates (1 = recommended); None if unusable.")
    capacity_rps: float | None = Field(None, description="What instance_count instances sustain within the SLA.")
    serverless: ServerlessSizing | None = Field(None, description="A serverless candidate's cost at the target rate.")


class AutoscalingSuggestion(BaseModel):
    """Application Auto Scaling advice for the recommended type over the traffic range."""

    model_config = ConfigDict(extra="forbid")
    min_instance_count: int
    max_instance_count: int
    min_rps: float
    max_rps: float
    invocations_per_instance_target: float = Field(
        description="SageMakerVariantInvocationsPerInstance target (per minute) = rate x safety factor x 60."
    )
    safety_factor: float
    usd_per_hour_at_min: float
    usd_per_hour_at_max: float


class Recommendation(BaseModel):
    """The answer: N x instance type, what it costs, and why."""

    model_config = ConfigDict(extra="forbid")
    candidate_id: str
    instance_type: str
    environment: dict[str, str] = Field(default_factory=dict)
    instance_count: int
    usd_per_hour: float
    usd_per_hour_per_instance: float
    usd_per_million_inferences: float
    sustainable_rps_per_instance: float
    capacity_rps: float
    headroom_percent: float
    price_source: str
    rationale: str
    alternatives: list[Alternative] = Field(default_factory=list)
    usd_per_hour_on_demand: float | None = Field(None, description="The fleet at on-demand prices (no discount).")
    savings_plan_discount_percent: float = 0.0
    usd_per_inference_at_capacity: float | None = Field(None, description="Cost per inference at full capacity.")
    latency_ms_at_sla_percentile: float | None = Field(None, description="Measured at the rate used for sizing.")
    autoscaling: AutoscalingSuggestion | None = None
    lower_bound: bool = Field(
        False,
        description="sustainable_rps_per_instance is a lower bound (status lower_bound): sized on it, the fleet "
        "serves the target and may be larger than needed.",
    )
    serverless: ServerlessSizing | None = Field(
        None, description="Set when the answer is a serverless endpoint: one endpoint, priced per use at the target."
    )
    size_on: Literal["mean", "lower_bound"] = Field(
        "mean",
        description="With repeated trials, what sustainable_rps_per_instance is: the trials' mean, or the lower end "
        "of their 95 % interval (sizing.size_on). With one trial, the measured figure.",
    )


class RunResult(BaseModel):
    """The run's output document (``result.json``)."""

    model_config = ConfigDict(extra="forbid")
    schema_version: str = RESULT_SCHEMA_VERSION
    run_id: str
    mode: Literal["local", "aws"]
    region: str
    traffic: TrafficTarget
    sla: LatencySla
    max_error_rate: float
    candidates: list[CandidateResult]
    recommendation: Recommendation | None
    no_recommendation_reason: str | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    sizing: SizingOptions | None = Field(None, description="The sizing assumptions the recommendation used.")
    prices: dict[str, PriceQuote] = Field(default_factory=dict, description="Candidate id -> on-demand price quote.")
    price_errors: dict[str, str] = Field(default_factory=dict, description="Candidate id -> why it has no price.")
    cost: RunCost | None = Field(None, description="What the run cost, measured, beside the dry run's estimate.")
    knee: KneeSummary | None = Field(
        None, description="The knee bounds and the cheapest fleet for the target at each: what a looser SLA saves."
    )


class SweepReport(BaseModel):
    """What one sweep of a run's leftovers did (cleanup state machine)."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    candidate_id: str | None = None
    deleted: list[str] = Field(default_factory=list)
    remaining: list[str] = Field(default_factory=list, description="'endpoint/<name> (Creating)': try again later.")

    @property
    def done(self) -> bool:
        return not self.remaining
