"""Pydantic models: the request (public input), the per-candidate plan and job, and the results."""

from rightsizing.models.common import LatencyPercentiles, Percentile
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

__all__ = [
    "CandidateOutcome",
    "CandidatePlan",
    "CandidateResult",
    "LatencyPercentiles",
    "LoadTestJob",
    "LoadTestResult",
    "Percentile",
    "ProbeRecord",
    "Recommendation",
    "RightsizingRequest",
    "RunPlan",
    "RunResult",
]
