"""Load search strategies: which load to offer next and when to stop (pure logic, importable without Locust)."""

from __future__ import annotations

from typing import Protocol

from rightsizing.models.load import LoadSettings
from rightsizing.models.targets import LatencySla
from rightsizing.search.adaptive import AdaptiveSearch
from rightsizing.search.base import (
    GENERATOR_CPU_LIMIT_PERCENT,
    LoadProbe,
    ProbeMeasurement,
    RateProbe,
    SearchOutcome,
    SlaCheck,
    summarize,
    to_record,
)
from rightsizing.search.phases import PhasesSearch
from rightsizing.search.ramp import RampProbe, RampSearch
from rightsizing.search.session import ProbeSession, SearchStrategy
from rightsizing.search.stepped import SteppedSearch


class GeneratorProbe(RateProbe, RampProbe, Protocol):
    """What the load generator offers: closed loop, open loop and the classic ramp, so any strategy can drive it."""


def strategy_for(load: LoadSettings, sla: LatencySla, max_error_rate: float) -> SearchStrategy[GeneratorProbe]:
    """The one place that maps ``load.mode`` to a strategy."""
    if load.mode == "adaptive":
        return AdaptiveSearch(
            sla,
            max_error_rate,
            step_seconds=load.step_seconds,
            max_users=load.max_users,
            warmup_seconds=load.warmup_seconds,
            precision=load.precision,
            min_completions=load.min_completions,
            min_probe_seconds=load.min_probe_seconds,
            max_probe_seconds=load.max_probe_seconds,
            fail_fast=load.fail_fast,
            confirm_seconds=load.confirm_seconds,
        )
    if load.mode == "ramp":
        return RampSearch(sla, max_error_rate, load.max_users)
    if load.mode == "stepped":
        return SteppedSearch(
            sla=sla,
            max_error_rate=max_error_rate,
            step_seconds=load.step_seconds,
            max_users=load.max_users,
        )
    if load.mode == "phases":
        return PhasesSearch(
            sla,
            max_error_rate,
            phases=load.phases,
            step_seconds=load.step_seconds,
            max_users=load.max_users,
            max_invocations_per_minute=load.stop.max_invocations_per_minute,
            latency_threshold_ms=load.stop.latency_ms,
        )
    raise ValueError(f"unsupported load mode '{load.mode}'")


__all__ = [
    "GENERATOR_CPU_LIMIT_PERCENT",
    "GeneratorProbe",
    "LoadProbe",
    "PhasesSearch",
    "ProbeMeasurement",
    "ProbeSession",
    "SearchOutcome",
    "SearchStrategy",
    "SlaCheck",
    "SteppedSearch",
    "strategy_for",
    "summarize",
    "to_record",
]
