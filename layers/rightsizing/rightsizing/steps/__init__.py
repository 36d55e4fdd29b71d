"""The state machine's Lambda steps as plain functions: parse the event into a model, do one thing, return a model.

``functions/*/app.py`` (AWS) and ``rightsizing_local.lambdas`` (local mode) both call ``STEPS[name]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from rightsizing.models.automation import ModelPackageStateChange, ScheduledRunEvent
from rightsizing.models.pipeline_step import PipelineCallbackMessage
from rightsizing.ports import Backend
from rightsizing.steps.collect import CollectInput, collect_metrics
from rightsizing.steps.pipeline_run import start_pipeline_run
from rightsizing.steps.plan import PlanInput, plan_run
from rightsizing.steps.recommend import RecommendInput, recommend_run
from rightsizing.steps.registry_run import start_registry_run
from rightsizing.steps.run_failed import RunFailedInput, announce_failure
from rightsizing.steps.run_trigger import Trigger
from rightsizing.steps.scheduled_run import start_scheduled_run
from rightsizing.steps.sweep import SweepInput, sweep_run


@dataclass(frozen=True)
class Step:
    input_model: type[BaseModel]
    run: Callable[[Any, Backend], BaseModel]

    def handle(self, event: dict[str, Any], backend: Backend) -> dict[str, Any]:
        return self.run(self.input_model.model_validate(event), backend).model_dump(mode="json")


STEPS: dict[str, Step] = {
    "plan": Step(PlanInput, plan_run),
    "collect-metrics": Step(CollectInput, collect_metrics),
    "recommend": Step(RecommendInput, recommend_run),
    "sweep": Step(SweepInput, sweep_run),
    "run-failed": Step(RunFailedInput, announce_failure),
}

# What starts a run without a person (functions/start_*_run/app.py): the event's model, and the start.
TRIGGERS: dict[str, Trigger] = {
    "scheduled-run": Trigger(ScheduledRunEvent, start_scheduled_run),
    "registry-run": Trigger(ModelPackageStateChange, start_registry_run),
    "pipeline-run": Trigger(PipelineCallbackMessage, start_pipeline_run),
}
