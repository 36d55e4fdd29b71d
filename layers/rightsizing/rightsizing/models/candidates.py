"""One candidate to benchmark: the request's ``candidates`` entries, an instance type or a serverless endpoint."""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from rightsizing.models.common import StrictModel
from rightsizing.models.messages import ENDPOINT_NAME, FieldProblem, shown
from rightsizing.models.serverless import SERVERLESS_LABEL, ServerlessSpec

# ml.<family>.<size>, e.g. ml.c6i.xlarge, ml.g4dn.12xlarge, ml.inf2.xlarge, ml.m7i.large. The shape only: whether
# SageMaker hosting knows the type is botocore's list, checked where botocore is in reach (adapters/guard.py:
# `rightsize validate`, the dry run and the plan step), so this model stays free of boto3.
AWS_INSTANCE_TYPE = re.compile(r"^ml\.[a-z][a-z0-9-]*\.(?:[0-9]*x?large|medium|small|metal(?:-\d+xl)?)$")
# Local profiles are declared in the local catalog and always carry the "local." prefix, so they can never be
# mistaken for an AWS instance type in a report.
LOCAL_INSTANCE_TYPE = re.compile(r"^local\.[a-z0-9][a-z0-9-]*$")
ENV_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")
# CreateModel's Environment: at most 100 entries, each value at most 1024 characters (botocore's EnvironmentMap and
# EnvironmentValue); the model source's own environment counts toward the 100 as well.
MAX_ENV_ENTRIES = 100
MAX_ENV_VALUE_CHARS = 1024


class CandidateSpec(BaseModel):
    """One instance type (or serverless endpoint) to benchmark, optionally with a grid of container environment
    settings."""

    model_config = StrictModel
    instance_type: str = Field(
        "",
        description="ml.<family>.<size> on AWS, local.<profile> in local mode; for a serverless candidate, its "
        "label (serverless-<GB>gb-c<concurrency>), filled in from `serverless`.",
    )
    serverless: ServerlessSpec | None = Field(
        None,
        description="A serverless endpoint instead of an instance type: {memory_mb, max_concurrency} "
        "(CreateEndpointConfig ServerlessConfig).",
    )
    environment: dict[str, str] = Field(default_factory=dict, description="Fixed extra container environment.")
    environment_grid: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Each combination becomes its own benchmark, e.g. {'OMP_NUM_THREADS': ['1', '2']}.",
    )
    endpoint_name: str | None = Field(
        None,
        pattern=ENDPOINT_NAME.pattern,
        description="Benchmark this already deployed endpoint (running on instance_type) instead of deploying one: "
        "nothing is created or deleted for this candidate.",
    )

    @model_validator(mode="before")
    @classmethod
    def _serverless_label(cls, data: Any) -> Any:
        """A serverless candidate names no instance type: its label stands in for one (AWS form; the request
        relabels it for local mode, see ``labelled_for``)."""
        if isinstance(data, dict) and "serverless" in data and data.get("serverless") is not None:
            if "instance_type" in data and not SERVERLESS_LABEL.match(str(data["instance_type"])):
                raise FieldProblem(
                    "instance_type", "give either instance_type (a real-time instance) or serverless, not both"
                )
            spec = data["serverless"]
            if isinstance(spec, dict) and "instance_type" not in data:
                memory, concurrency = spec.get("memory_mb"), spec.get("max_concurrency")
                label = f"serverless-{memory // 1024}gb-c{concurrency}" if isinstance(memory, int) else ""
                if isinstance(concurrency, int) and SERVERLESS_LABEL.match(label):  # else its own fields say why
                    data = {**data, "instance_type": label}
        elif isinstance(data, dict) and "instance_type" not in data:
            raise FieldProblem(
                "instance_type",
                "give instance_type (e.g. ml.c6i.xlarge, or local.small in local mode) or serverless "
                "({memory_mb, max_concurrency})",
            )
        return data

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if SERVERLESS_LABEL.match(value):
            return value  # checked against `serverless` by _serverless_consistent
        if not (AWS_INSTANCE_TYPE.match(value) or LOCAL_INSTANCE_TYPE.match(value)):
            raise ValueError(
                f"{shown(value)} is not an instance type name: ml.<family>.<size> on AWS (e.g. ml.c6i.xlarge) "
                "or local.<profile> in local mode (e.g. local.small), in lower case"
            )
        return value

    @field_validator("environment", "environment_grid")
    @classmethod
    def _env_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(
                    f"{shown(name)} is not an environment variable name: letters, digits and underscores, not "
                    f"starting with a digit, at most 1024 characters (pattern {ENV_NAME.pattern})"
                )
        return value

    @field_validator("environment")
    @classmethod
    def _env_values(cls, value: dict[str, str]) -> dict[str, str]:
        for name, setting in value.items():
            if len(setting) > MAX_ENV_VALUE_CHARS:
                raise ValueError(f"{name}'s value is {len(setting)} characters; CreateModel takes at most 1024")
        return value

    @field_validator("environment_grid")
    @classmethod
    def _grid_values(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, options in value.items():
            if not options:
                raise ValueError(f"grid entry '{name}' needs at least one value")
            if len(set(options)) != len(options):
                raise ValueError(f"grid entry '{name}' repeats a value")
            if any(len(option) > MAX_ENV_VALUE_CHARS for option in options):
                raise ValueError(f"grid entry '{name}' has a value longer than CreateModel's 1024 characters")
        return value

    def variants(self) -> list[dict[str, str]]:
        """The environments to benchmark: the fixed environment merged with every grid combination."""
        names = sorted(self.environment_grid)
        combos = itertools.product(*(self.environment_grid[n] for n in names))
        return [{**self.environment, **dict(zip(names, combo, strict=True))} for combo in combos]

    @property
    def is_local(self) -> bool:
        return self.instance_type.startswith("local.")

    @model_validator(mode="after")
    def _serverless_consistent(self) -> CandidateSpec:
        label = SERVERLESS_LABEL.match(self.instance_type)
        if self.serverless is None:
            if label:
                raise FieldProblem(
                    "instance_type",
                    f"{shown(self.instance_type)} is a serverless label: describe a serverless candidate with "
                    "serverless {memory_mb, max_concurrency} instead",
                )
            return self
        if self.instance_type not in (self.serverless.label(False), self.serverless.label(True)):
            raise FieldProblem("instance_type", f"{shown(self.instance_type)} does not match its serverless settings")
        if self.endpoint_name is not None:
            raise FieldProblem(
                "endpoint_name", "benchmarking an existing serverless endpoint is not supported: leave it to the run"
            )
        return self

    @property
    def is_serverless(self) -> bool:
        return self.serverless is not None

    def labelled_for(self, local: bool) -> CandidateSpec:
        """A serverless candidate labelled for the run's mode (``local.serverless-…`` in local mode)."""
        if self.serverless is None or self.instance_type == self.serverless.label(local):
            return self
        return self.model_copy(update={"instance_type": self.serverless.label(local)})

    @model_validator(mode="after")
    def _existing_endpoint(self) -> CandidateSpec:
        if self.endpoint_name and (self.environment or self.environment_grid):
            raise FieldProblem(
                "environment", "an existing endpoint cannot be given an environment: it runs as it was deployed"
            )
        if len(set(self.environment) | set(self.environment_grid)) > MAX_ENV_ENTRIES:
            raise FieldProblem("environment", f"more than CreateModel's {MAX_ENV_ENTRIES} environment variables")
        return self
