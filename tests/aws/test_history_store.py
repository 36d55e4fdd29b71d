"""The history stores (DynamoDB under moto, with the table as template.yaml defines it; the local JSON-lines file),
and the RunFailed function putting "Rightsizing Failed" on EventBridge (moto, read back through an SQS target)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import FakeLambdaContext, function_event, load_handler
from iam_template import deployed_template
from moto import mock_aws

from rightsizing.adapters.history_dynamodb import DynamoDbHistory
from rightsizing.models.history import RunRecord
from rightsizing_local.history import JsonLinesHistory

TEMPLATE = deployed_template()
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _record(model: str, run_id: str, day: int, count: int = 4) -> RunRecord:
    return RunRecord.model_validate(
        {
            "model_key": model,
            "run_id": run_id,
            "finished_at": (T0 + timedelta(days=day)).isoformat(),
            "mode": "aws",
            "region": "us-east-1",
            "request_name": "fraud",
            "request_hash": "0" * 64,
            "model": model,
            "traffic": {"min_rps": 500},
            "sla": {"percentile": "p95", "milliseconds": 100},
            "recommendation": {
                "candidate_id": "c01-ml-c5-xlarge",
                "instance_type": "ml.c5.xlarge",
                "instance_count": count,
                "usd_per_hour": 0.204 * count,
                "usd_per_hour_per_instance": 0.204,
                "price_source": "bundled AWS price snapshot (2026)",
            },
            "candidates": [],
        }
    )


@pytest.fixture
def dynamodb() -> Iterator[DynamoDbHistory]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        properties = TEMPLATE.resolve(TEMPLATE.resources["HistoryTable"]["Properties"])
        shape = ("AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes", "GlobalSecondaryIndexes", "BillingMode")
        client.create_table(TableName="history", **{k: properties[k] for k in shape})
        yield DynamoDbHistory("history", client)


@pytest.fixture
def jsonl(tmp_path: Path) -> JsonLinesHistory:
    return JsonLinesHistory.in_folder(tmp_path / "rightsizing-runs")


@pytest.fixture(params=["dynamodb", "jsonl"])
def store(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def test_latest_is_newest_first_per_model_and_get_finds_any_run(store: Any) -> None:
    # written out of order, and another model's run in between
    for record in (_record("m1", "r2", 2), _record("m2", "x1", 3), _record("m1", "r1", 1), _record("m1", "r3", 5)):
        store.put(record)
    assert [r.run_id for r in store.latest("m1")] == ["r3", "r2", "r1"]
    assert [r.run_id for r in store.latest("m1", limit=2)] == ["r3", "r2"]
    found = store.get("x1")
    assert found is not None and found.model_key == "m2" and found == _record("m2", "x1", 3)
    assert store.get("nope") is None and store.latest("unknown") == []


def test_recording_a_run_again_replaces_it(store: Any) -> None:
    store.put(_record("m1", "r1", 1, count=4))
    store.put(_record("m1", "r1", 1, count=5))  # a retried Recommend step
    runs = store.latest("m1")
    assert len(runs) == 1 and runs[0].recommendation is not None and runs[0].recommendation.instance_count == 5


def test_the_table_keeps_history_safe() -> None:
    table = TEMPLATE.resources["HistoryTable"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True


def test_the_run_failed_function_puts_rightsizing_failed(lambda_context: FakeLambdaContext) -> None:
    event = function_event("run_failed")
    with mock_aws():
        events, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["rightsizing"], "detail-type": ["Rightsizing Failed"]}
        events.put_rule(Name="failed", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="failed", Targets=[{"Id": "q", "Arn": queue_arn}])

        output = load_handler("run_failed").lambda_handler(event, lambda_context)

        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(output["published"]) == 1 and len(messages) == 1
    delivered = json.loads(messages[0]["Body"])
    assert delivered["source"] == "rightsizing" and delivered["detail-type"] == "Rightsizing Failed"
    detail = delivered["detail"]
    assert detail["run_id"] == "fraud-xgboost-999be7a19897" and detail["status"] == "FAILED"
    assert detail["error"] == "BudgetExceeded" and "budget_usd" in detail["cause"]
    assert detail["model_key"] == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-xgboost:1,s3://models-123456789012/fraud/model.tar.gz"
    )
    assert detail["started_at"] == "2025-01-01T12:00:00Z"


def test_a_failed_run_whose_request_cannot_be_read_is_still_announced(
    lambda_context: FakeLambdaContext,
) -> None:
    event = function_event("run_failed")
    event["detail"].update(input='{"name": "x"}', error="InvalidRequest", status="FAILED")
    with mock_aws():
        output = load_handler("run_failed").lambda_handler(event, lambda_context)
    detail = output["published"][0]["Detail"]
    assert detail["model_key"] is None and detail["error"] == "InvalidRequest"
