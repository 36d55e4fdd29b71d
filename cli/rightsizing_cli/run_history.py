"""An AWS run's progress, read from its Step Functions execution history.

Inside the inline Map, each state's ``stateEnteredEventDetails.input`` carries ``candidate`` (the plan item), which
says whose event it is; the states are those of statemachine/rightsizing.asl.json. Each event becomes at most one
progress line ``(candidate id or "run", stage, detail, seconds since the start)`` in the stages ProgressPrinter
prints, and updates the candidate's current stage for ``rightsize status``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

RUN_KEY = "run"
CAUSE_CHARS = 300  # a failure's cause on one line; the report has all of it
TERMINAL_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
# Stage -> what `status` calls it.
STAGE_NAMES = {
    "creating": "deploying",
    "in_service": "in service",
    "load_test": "load testing",
    "deleted": "deleted",
    "not_deleted": "not deleted (handed to cleanup)",
    "collecting": "collecting metrics",
    "done": "measured",
    "failed": "failed",
    "skipped": "skipped (budget)",
}


@dataclass
class CandidateState:
    candidate_id: str
    instance_type: str
    endpoint_name: str
    existing_endpoint: bool = False
    stage: str = "pending"
    detail: str = ""
    deleted: bool = False
    sustainable_rps: float | None = None
    lower_bound: bool = False  # sustainable_rps is a floor: the test ended before it found the capacity
    failure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Line:
    key: str
    stage: str
    detail: str
    elapsed: float


@dataclass
class RunHistory:
    """Feed it events in id order (``feed``); it keeps each candidate's state and the run's."""

    candidates: dict[str, CandidateState] = field(default_factory=dict)
    last_id: int = 0
    started: datetime | None = None
    status: str = "RUNNING"
    max_concurrency: int | None = None
    leaked: bool = False  # a candidate handed an endpoint to the cleanup state machine

    def feed(self, events: list[dict[str, Any]]) -> list[Line]:
        lines: list[Line] = []
        for event in events:
            if event["id"] <= self.last_id:
                continue
            self.last_id = event["id"]
            if self.started is None:
                self.started = event["timestamp"]
            line = self._apply(event)
            if line is not None:
                key, stage, detail = line
                lines.append(Line(key, stage, detail, (event["timestamp"] - self.started).total_seconds()))
        return lines

    @property
    def finished(self) -> bool:
        return self.status != "RUNNING"

    def _apply(self, event: dict[str, Any]) -> tuple[str, str, str] | None:
        kind = event["type"]
        if kind in TERMINAL_EVENTS:
            self.status = TERMINAL_EVENTS[kind]
            return RUN_KEY, "run", _ending(kind, event)
        if kind == "ExecutionStarted":
            return RUN_KEY, "run", "started"
        if "stateEnteredEventDetails" in event:
            details = event["stateEnteredEventDetails"]
            return self._entered(details["name"], _json(details.get("input")))
        if kind == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "PlanRun":
            return self._planned(_json(event["stateExitedEventDetails"].get("output")))
        return None

    def _planned(self, output: Any) -> tuple[str, str, str] | None:
        plan = output.get("plan") if isinstance(output, dict) else None
        if not isinstance(plan, dict):
            return None
        for item in plan.get("candidates", []):
            self._candidate(item)
        self.max_concurrency = plan.get("max_concurrency")
        return RUN_KEY, "run", f"planned {len(self.candidates)} candidate(s), at most {self.max_concurrency} at a time"

    def _entered(self, state: str, state_input: Any) -> tuple[str, str, str] | None:
        if state == "PlanRun":
            return RUN_KEY, "run", "planning: validating, checking quotas and the budget, writing the load-test jobs"
        if state == "Recommend":
            return RUN_KEY, "run", "recommending: pricing the candidates, writing the result and the report"
        if not isinstance(state_input, dict) or not isinstance(state_input.get("candidate"), dict):
            return None
        candidate = self._candidate(state_input["candidate"])
        outcome = state_input.get("outcome")
        change = _candidate_stage(state, candidate, outcome)
        if change is None:
            return None
        stage, detail = change
        if stage == "failed" and candidate.failure is not None:
            candidate.stage = stage  # reported once, when cleanup began; it is still the candidate's last word
            return None
        candidate.stage, candidate.detail = stage, detail
        if stage == "deleted":
            candidate.deleted = True
        elif stage == "not_deleted":
            self.leaked = True
        elif stage == "failed":
            candidate.failure = detail
        elif stage == "done" and isinstance(outcome, dict):
            candidate.sustainable_rps = outcome.get("sustainable_rps")
            candidate.lower_bound = outcome.get("status") == "lower_bound"
        return candidate.candidate_id, stage, detail

    def _candidate(self, item: dict[str, Any]) -> CandidateState:
        cid = str(item.get("candidate_id", "?"))
        if cid not in self.candidates:
            self.candidates[cid] = CandidateState(
                candidate_id=cid,
                instance_type=str(item.get("instance_type", "?")),
                endpoint_name=str(item.get("endpoint_name", "?")),
                existing_endpoint=bool(item.get("existing_endpoint", False)),
            )
        return self.candidates[cid]


def _candidate_stage(state: str, candidate: CandidateState, outcome: Any) -> tuple[str, str] | None:
    """The stage a candidate reaches when it enters ``state`` (None: no news)."""
    if state == "CreateModel":
        return "creating", candidate.instance_type
    if state == "RunLoadTest":
        return "load_test", f"endpoint {candidate.endpoint_name} in service; Fargate task starting"
    if state == "Cleanup" and isinstance(outcome, dict) and "Error" in outcome:
        return "failed", _failure(outcome)
    if state == "EndpointNotDeleted":
        return (
            "not_deleted",
            f"{candidate.endpoint_name}: SageMaker refused the delete; the cleanup state machine retries",
        )
    if state == "HasOutcome" and not candidate.existing_endpoint and candidate.stage != "not_deleted":
        return "deleted", "endpoint, endpoint config and model"
    if state == "CollectMetrics":
        return "collecting", "the load test's result and CloudWatch's view of the test window"
    if state == "CandidateDone" and isinstance(outcome, dict):
        if outcome.get("status") in {"succeeded", "lower_bound"}:
            done = {
                "sustainable_rps": outcome.get("sustainable_rps") or 0,
                "stop_reason": outcome.get("stop_reason"),
                "lower_bound": outcome.get("status") == "lower_bound",
            }
            return "done", json.dumps(done)
        if outcome.get("status") == "skipped":
            return "skipped", _short(str(outcome.get("failure_reason")))
        if outcome.get("status") == "failed":
            return "failed", _short(str(outcome.get("failure_reason")))
        if "Error" in outcome:
            return "failed", _failure(outcome)
    return None


def stage_name(stage: str) -> str:
    return STAGE_NAMES.get(stage, stage)


def _failure(outcome: dict[str, Any]) -> str:
    cause = str(outcome.get("Cause") or "")
    return _short(f"{outcome['Error']}: {cause}" if cause else str(outcome["Error"]))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CAUSE_CHARS else text[: CAUSE_CHARS - 1] + "…"


def _ending(kind: str, event: dict[str, Any]) -> str:
    if kind == "ExecutionSucceeded":
        summary = _json(event.get("executionSucceededEventDetails", {}).get("output"))
        message = summary.get("message") if isinstance(summary, dict) else None
        return f"succeeded: {message}" if message else "succeeded"
    details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
    reason = ": ".join(str(details[k]) for k in ("error", "cause") if details.get(k))
    word = TERMINAL_EVENTS[kind].lower().replace("_", " ")
    return _short(f"{word}: {reason}" if reason else word)


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
