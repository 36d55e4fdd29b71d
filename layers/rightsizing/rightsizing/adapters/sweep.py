"""The abort safety net: delete whatever a run left in SageMaker (and stop its load-generator worker tasks in ECS)
when its execution did not end normally.

Every benchmark deletes its own resources, but an execution that is aborted, times out or fails outside a Map
iteration stops before its deletes. The cleanup state machine (started by an EventBridge rule on those statuses)
calls ``sweep`` until nothing is left. Only resources whose name has the run's prefix *and* whose
``rightsizing:run-id`` tag equals the run id (and, for a one-candidate sweep, whose ``rightsizing:candidate-id`` tag
equals the candidate id) are touched, so another run, another candidate of a run still going, or an endpoint
benchmarked in existing-endpoint mode (never tagged by the run) is never deleted.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.adapters.ecs import EcsTasks
from rightsizing.adapters.errors import error_code, error_message, translate
from rightsizing.adapters.sagemaker import NOT_FOUND_MESSAGE
from rightsizing.models.plan import CANDIDATE_TAG, RUN_ID_TAG, run_name_prefix, worker_started_by
from rightsizing.models.result import SweepReport

# SageMaker refuses DeleteEndpoint in these; the endpoint's config and model must stay until it is gone.
BUSY_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
KEPT = "kept until the endpoints of the run are deleted"


class RunSweeper:
    def __init__(
        self, client: Any = None, region: str | None = None, cluster: str | None = None, ecs: Any = None
    ) -> None:
        """``cluster``: the load-test cluster, whose worker tasks of the run are stopped too (None: SageMaker only)."""
        self._client = client or aws_client("sagemaker", region)
        self._ecs = EcsTasks(cluster, ecs, region) if cluster else None

    def sweep(self, run_id: str, candidate_id: str | None = None) -> SweepReport:
        report = SweepReport(run_id=run_id, candidate_id=candidate_id)
        if self._ecs is not None:
            self._stop_worker_tasks(self._ecs, report)
        wanted = {RUN_ID_TAG: run_id} | ({CANDIDATE_TAG: candidate_id} if candidate_id else {})
        prefix = run_name_prefix(run_id)
        for endpoint in self._owned("list_endpoints", "Endpoints", "EndpointArn", prefix, wanted):
            self._delete_endpoint(endpoint, report)
        configs = self._owned("list_endpoint_configs", "EndpointConfigs", "EndpointConfigArn", prefix, wanted)
        models = self._owned("list_models", "Models", "ModelArn", prefix, wanted)
        if report.remaining:
            # In use until their endpoints are gone; listed too, so what is left is complete if the sweeps give up.
            report.remaining.extend(f"endpoint-config/{c['name']} ({KEPT})" for c in configs)
            report.remaining.extend(f"model/{m['name']} ({KEPT})" for m in models)
            return report
        for config in configs:
            self._delete(report, "endpoint-config", "delete_endpoint_config", EndpointConfigName=config["name"])
        for model in models:
            self._delete(report, "model", "delete_model", ModelName=model["name"])
        return report

    def _stop_worker_tasks(self, ecs: EcsTasks, report: SweepReport) -> None:
        """Load-generator worker tasks of the run (distributed mode, ``worker_placement: tasks``) still running: they
        end on their own within a minute of losing their master, but nothing of an abandoned run should go on."""
        arns = ecs.started_by(worker_started_by(report.run_id))
        if report.candidate_id and arns:
            wanted = {"key": CANDIDATE_TAG, "value": report.candidate_id}
            arns = [task["taskArn"] for task in ecs.describe(arns, tags=True) if wanted in task.get("tags", [])]
        failed = ecs.stop(arns, f"rightsizing sweeper: run {report.run_id}")
        report.deleted.extend(f"task/{arn.rsplit('/', 1)[-1]}" for arn in arns if arn not in failed)
        if failed:
            raise next(iter(failed.values()))  # throttled: the state machine sweeps again later

    def _delete_endpoint(self, endpoint: dict[str, Any], report: SweepReport) -> None:
        status = endpoint.get("EndpointStatus")
        if status == "Deleting":
            return  # already on its way; its config and model can go
        if status in BUSY_STATUSES:
            report.remaining.append(f"endpoint/{endpoint['name']} ({status})")
            return
        self._delete(report, "endpoint", "delete_endpoint", EndpointName=endpoint["name"], status=status)

    def _delete(self, report: SweepReport, kind: str, operation: str, status: str | None = None, **name: str) -> None:
        label = f"{kind}/{next(iter(name.values()))}"
        try:
            getattr(self._client, operation)(**name)
        except ClientError as e:
            if NOT_FOUND_MESSAGE in error_message(e):
                return  # deleted meanwhile
            if error_code(e) == "ValidationException":  # e.g. the endpoint changed status since it was listed
                report.remaining.append(f"{label} ({status or 'refused'}: {error_message(e)})")
                return
            translate(e, f"SageMaker {operation} {label}")
        report.deleted.append(label)

    def _owned(
        self, operation: str, key: str, arn_key: str, prefix: str, wanted: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Resources named with the run's prefix that carry every ``wanted`` tag; each gets a ``name`` key."""
        owned: list[dict[str, Any]] = []
        try:
            for page in self._client.get_paginator(operation).paginate(NameContains=prefix):
                for item in page.get(key, []):
                    name = item.get("EndpointName") or item.get("EndpointConfigName") or item.get("ModelName", "")
                    if name.startswith(prefix) and self._tagged(item[arn_key], wanted):
                        owned.append({**item, "name": name})
        except ClientError as e:
            translate(e, f"SageMaker {operation} for {wanted}")
        return owned

    def _tagged(self, arn: str, wanted: dict[str, str]) -> bool:
        tags: dict[str, str] = {}
        try:
            for page in self._client.get_paginator("list_tags").paginate(ResourceArn=arn):
                tags.update({t["Key"]: t.get("Value", "") for t in page.get("Tags", [])})
        except ClientError as e:
            if NOT_FOUND_MESSAGE not in error_message(e):
                raise
            return False  # deleted since it was listed
        return all(tags.get(key) == value for key, value in wanted.items())
