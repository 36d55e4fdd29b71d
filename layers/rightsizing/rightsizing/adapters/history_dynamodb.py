"""The run history in DynamoDB (template.yaml ``HistoryTable``).

One item per run: partition key ``model_key``, sort key ``run_id`` (so a retried Recommend step overwrites its own
item instead of adding one), ``finished_at`` (ISO 8601 UTC, sortable) for the local secondary index ``by-finished``
that lists a model's runs newest first, and a global secondary index ``by-run`` to find a run without its model.
The record itself is one JSON string attribute: DynamoDB numbers would need Decimal, and nothing queries inside it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.adapters.errors import translate
from rightsizing.models.history import RunRecord

BY_FINISHED = "by-finished"
BY_RUN = "by-run"


class DynamoDbHistory:
    def __init__(self, table_name: str, client: Any = None, region: str | None = None) -> None:
        self.table_name = table_name
        self._client = client or aws_client("dynamodb", region)

    def put(self, record: RunRecord) -> None:
        item = {
            "model_key": {"S": record.model_key},
            "run_id": {"S": record.run_id},
            "finished_at": {"S": record.finished_at.isoformat()},
            "record": {"S": record.model_dump_json()},
        }
        try:
            self._client.put_item(TableName=self.table_name, Item=item)
        except ClientError as e:
            translate(e, f"recording run {record.run_id} in {self.table_name}")

    def latest(self, model_key: str, limit: int = 20) -> list[RunRecord]:
        try:
            answer = self._client.query(
                TableName=self.table_name,
                IndexName=BY_FINISHED,
                KeyConditionExpression="model_key = :key",
                ExpressionAttributeValues={":key": {"S": model_key}},
                ScanIndexForward=False,
                Limit=limit,
            )
        except ClientError as e:
            translate(e, f"reading the history of {model_key} in {self.table_name}")
        return [_record(item) for item in answer.get("Items", [])]

    def get(self, run_id: str) -> RunRecord | None:
        try:
            answer = self._client.query(
                TableName=self.table_name,
                IndexName=BY_RUN,
                KeyConditionExpression="run_id = :run",
                ExpressionAttributeValues={":run": {"S": run_id}},
                Limit=1,
            )
        except ClientError as e:
            translate(e, f"finding run {run_id} in {self.table_name}")
        items = answer.get("Items", [])
        return _record(items[0]) if items else None


def _record(item: dict[str, Any]) -> RunRecord:
    return RunRecord.model_validate_json(item["record"]["S"])
