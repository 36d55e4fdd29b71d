"""Pydantic models: the request (public input), the per-candidate plan and job, and the results."""

from rightsizing.models.candidates import CandidateSpec
from rightsizing.models.common import LatencyPercentiles, Percentile
from rightsizing.models.load import LoadSettings, Phase, PhaseStop
from rightsizing.models.plan import CandidatePlan, LoadTestJob, RunPlan
from rightsizing.models.request import RightsizingRequest
from rightsizing.models.result import (
    CandidateOutcome,
    CandidateResult,
    LoadTestResult,
    ProbeRecord,
    Recommendation,
    RunResult,
)
from rightsizing.models.sources import ContainerModelSource, LocalModelSource, ModelPackageSource, ModelSource

__all__ = [
    "CandidateOutcome",
    "CandidatePlan",
    "CandidateResult",
    "CandidateSpec",
    "ContainerModelSource",
    "LatencyPercentiles",
    "LoadSettings",
    "LoadTestJob",
    "LoadTestResult",
    "LocalModelSource",
    "ModelPackageSource",
    "ModelSource",
    "Percentile",
    "Phase",
    "PhaseStop",
    "ProbeRecord",
    "Recommendation",
    "RightsizingRequest",
    "RunPlan",
    "RunResult",
]
