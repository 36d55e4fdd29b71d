"""The seams between the pipeline's steps and the world: what differs between AWS and local mode.

The steps take a ``Backend``; ``rightsizing.adapters.aws_backend`` builds the AWS one and
``rightsizing_local.backend`` the local one. Both implement these same small protocols; the steps never know
which one they were given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from rightsizing.models.automation import StartedRun
from rightsizing.models.events import PutEventsEntry
from rightsizing.models.history import DEFAULT_CHANGE_THRESHOLD_PERCENT, RunRecord
from rightsizing.models.plan import CandidatePlan
from rightsizing.models.price import PriceQuote
from rightsizing.models.request import RightsizingRequest
from rightsizing.models.result import SweepReport
from rightsizing.store import ArtifactStore


class PriceSource(Protocol):
    def hourly_price(self, instance_type: str, region: str) -> PriceQuote:
        """On-demand USD/hour of one instance; raises PriceNotFound / AmbiguousPrice."""
        ...


class CapacityGuard(Protocol):
    def check(self, request: RightsizingRequest) -> None:
        """Raise before anything is created if a candidate cannot be deployed (unknown profile, quota 0)."""
        ...


class ModelContainers(Protocol):
    def primary_container(self, request: RightsizingRequest, environment: dict[str, str]) -> dict[str, object]:
        """The CreateModel ``PrimaryContainer`` for this request's model source with extra environment."""
        ...


class EndpointMetrics(Protocol):
    def collect(self, candidate: CandidatePlan, start_epoch: float, end_epoch: float) -> dict[str, float]:
        """Server-side metrics over the load-test window (CloudWatch on AWS)."""
        ...


class Sweeper(Protocol):
    def sweep(self, run_id: str, candidate_id: str | None = None) -> SweepReport:
        """Delete what the run (or one of its candidates) left behind; ``remaining`` lists what must wait."""
        ...


class HistoryStore(Protocol):
    """Finished runs per model key: DynamoDB on AWS, a JSON-lines file locally."""

    def put(self, record: RunRecord) -> None:
        """Record a run; recording the same (model key, run id) again replaces it (a retried step)."""
        ...

    def latest(self, model_key: str, limit: int = 20) -> list[RunRecord]:
        """The model's most recent runs, newest first."""
        ...

    def get(self, run_id: str) -> RunRecord | None:
        """A run's record, whatever its model; None when it is not recorded."""
        ...


class EventPublisher(Protocol):
    def publish(self, entries: list[PutEventsEntry]) -> None:
        """Put the entries on their bus; raise when one is refused."""
        ...


@dataclass(frozen=True)
class Backend:
    mode: Literal["local", "aws"]
    prices: PriceSource
    guard: CapacityGuard
    containers: ModelContainers
    metrics: EndpointMetrics
    store: ArtifactStore  # where the run's request, jobs, results and report are kept
    default_poll_seconds: int
    # Step Functions' history-event limit applies on AWS only; None lets local runs poll as often as they like.
    history_event_budget: int | None = None
    metrics_delay_seconds: int = 0
    max_parallel_candidates: int | None = None  # the deployment's cap on Map concurrency, if any
    # The abort safety net (cleanup state machine). None where the run's own teardown is the only cleanup (local).
    sweeper: Sweeper | None = None
    # Run history and the events of a run's end. None: runs are not recorded (and no change is detected).
    history: HistoryStore | None = None
    events: EventPublisher | None = None  # only the RunFailed function publishes itself; the state machine does
    event_bus_name: str = "default"
    change_threshold_percent: float = DEFAULT_CHANGE_THRESHOLD_PERCENT  # when the request does not set one


class RunStarter(Protocol):
    def start(self, run_id: str, input_json: str) -> StartedRun:
        """Start the rightsizing state machine under ``run_id``, at most once per name."""
        ...


class PipelineCallbacks(Protocol):
    """SendPipelineExecutionStepSuccess / ...Failure; ``run_id`` makes each answer idempotent."""

    def succeed(self, token: str, outputs: dict[str, str], run_id: str) -> None: ...

    def fail(self, token: str, reason: str, run_id: str) -> None: ...


@dataclass(frozen=True)
class Triggers:
    """What the automatic starts (a schedule's period, an approved model package) are handed."""

    store: ArtifactStore  # reads the stored requests and profiles
    starter: RunStarter
    artifacts_uri: str  # s3://<results bucket>: schedules/ and profiles/ live here
    region: str  # the stack's: the state machine creates endpoints in its own region
    approval_statuses: frozenset[str] = frozenset({"Approved"})
    callbacks: PipelineCallbacks | None = None  # answers SageMaker Pipelines callback steps
