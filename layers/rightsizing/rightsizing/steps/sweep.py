"""Sweep step (cleanup state machine): delete what a run that did not end normally left in SageMaker.

AWS only: local runs stop every server themselves (``rightsizing_local.run``), so the local backend has no sweeper.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rightsizing.exceptions import RightsizingError
from rightsizing.ports import Backend


class SweepInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    run_id: str = Field(min_length=1, description="The execution name of the run (its rightsizing:run-id tag).")
    candidate_id: str | None = Field(None, description="Only this candidate's resources (a run still going).")


class SweepOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str
    candidate_id: str | None
    deleted: list[str]
    remaining: list[str]
    done: bool = Field(description="False while something is still Creating: the state machine sweeps again.")


def sweep_run(event: SweepInput, backend: Backend) -> SweepOutput:
    if backend.sweeper is None:
        raise RightsizingError(f"the {backend.mode} backend has no sweeper: its runs clean up after themselves")
    report = backend.sweeper.sweep(event.run_id, event.candidate_id)
    return SweepOutput(
        run_id=report.run_id,
        candidate_id=report.candidate_id,
        deleted=report.deleted,
        remaining=report.remaining,
        done=report.done,
    )
