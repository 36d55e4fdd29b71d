"""Answers for the AWS APIs moto does not model, given by ``CallRecorder`` after botocore has validated the request
against the service model: Service Quotas and the Price List API (not in moto), and ECS tasks on Fargate (moto's
awsvpc tasks need EC2 network interfaces it does not finish building)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from iam_template import ACCOUNT, PARTITION, REGION, REPO, deployed_template

EVENTS = REPO / "events"
CLUSTER = deployed_template().attributes["LoadTestCluster"]["Arn"]

Canned = dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]]


def sample_instance_types(events: Path = EVENTS) -> list[str]:
    return sorted(
        {c["instance_type"] for path in events.glob("aws-*.json") for c in json.loads(path.read_text())["candidates"]}
    )


def quotas(_: dict[str, Any]) -> dict[str, Any]:
    """ListAWSDefaultServiceQuotas for SageMaker: 4 instances of every type the sample requests use."""
    return {"Quotas": [{"QuotaName": f"{t} for endpoint usage", "Value": 4.0} for t in sample_instance_types()]}


def prices(params: dict[str, Any]) -> dict[str, Any]:
    """GetProducts: one on-demand Hosting price for the instance and region asked for."""
    terms = {f["Field"]: f["Value"] for f in params["Filters"]}
    item = {
        "product": {"attributes": {k: terms[k] for k in ("component", "instanceName", "regionCode")}},
        "terms": {"OnDemand": {"T1": {"priceDimensions": {"R1": {"unit": "Hrs", "pricePerUnit": {"USD": "0.5"}}}}}},
        "publicationDate": "2026-01-01T00:00:00Z",
    }
    return {"FormatVersion": "aws_v1", "PriceList": [json.dumps(item)]}


class FargateTasks:
    """RunTask, DescribeTasks, StopTask and ListTasks of the load-test cluster, in memory."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}

    def add(self, started_by: str, tags: list[dict[str, str]]) -> str:
        arn = f"arn:{PARTITION}:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER.rsplit('/', 1)[-1]}/{uuid4().hex}"
        self.tasks[arn] = {"taskArn": arn, "clusterArn": CLUSTER, "lastStatus": "RUNNING", "startedBy": started_by}
        self.tasks[arn]["tags"] = tags
        return arn

    def run_task(self, params: dict[str, Any]) -> dict[str, Any]:
        arns = [self.add(params.get("startedBy", ""), params.get("tags", [])) for _ in range(params.get("count", 1))]
        return {"tasks": [self._public(arn, tags=False) for arn in arns], "failures": []}

    def describe_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        tags = "TAGS" in params.get("include", [])
        return {"tasks": [self._public(arn, tags) for arn in params["tasks"]], "failures": []}

    def stop_task(self, params: dict[str, Any]) -> dict[str, Any]:
        self.tasks[params["task"]]["lastStatus"] = "STOPPED"
        return {"task": self._public(params["task"], tags=False)}

    def list_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        running = [t for t in self.tasks.values() if t["lastStatus"] != "STOPPED"]
        return {"taskArns": [t["taskArn"] for t in running if t["startedBy"] == params.get("startedBy")]}

    def _public(self, arn: str, tags: bool) -> dict[str, Any]:
        return {k: v for k, v in self.tasks[arn].items() if k != "tags" or tags}


def canned(fargate: FargateTasks) -> Canned:
    return {
        ("service-quotas", "ListAWSDefaultServiceQuotas"): quotas,
        ("service-quotas", "ListServiceQuotas"): lambda _: {"Quotas": []},
        ("pricing", "GetProducts"): prices,
        ("ecs", "RunTask"): fargate.run_task,
        ("ecs", "DescribeTasks"): fargate.describe_tasks,
        ("ecs", "StopTask"): fargate.stop_task,
        ("ecs", "ListTasks"): fargate.list_tasks,
    }
