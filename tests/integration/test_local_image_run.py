"""An image model benchmarked end to end with binary bodies: the real ASL executed locally, the image classifier
served by gunicorn, Locust posting PNG files and archive members as bytes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from pipeline_helpers import assert_everything_deleted, by_id, run

from rightsizing.models.request import parse_request
from rightsizing.payload_bodies import bodies_from_document

pytestmark = pytest.mark.slow  # a whole local run or capacity search per test: `make test-slow`

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_png_bodies_are_benchmarked_end_to_end(tmp_path: Path) -> None:
    document = json.loads((EVENTS / "local-image.json").read_text())
    request = parse_request(document, base_dir=EVENTS).model_dump(mode="json")  # paths made absolute, as the CLI does
    request["candidates"] = [{"instance_type": "local.small"}]
    request["traffic"] = {"min_rps": 5}
    request["load"] = {"mode": "stepped", "step_seconds": 1, "max_users": 4}
    request["limits"] = {"max_seconds_per_candidate": 12, "max_parallel_candidates": 1}

    result = run(tmp_path, request)

    assert result.execution.status == "SUCCEEDED", result.execution.cause
    candidate = by_id(result)["c01-local-small"]
    assert candidate.status == "succeeded", candidate.failure_reason
    sent = bodies_from_document(json.loads((result.run_dir / "payloads.json").read_text()))
    assert len(sent) == 3 and all(body.startswith(b"\x89PNG") for body in sent)
    assert sent[0] == (EVENTS / "payloads/images/disc.png").read_bytes()
    with (result.run_dir / "candidates/c01-local-small/locust_stats.csv").open() as handle:
        total = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    # The server decodes every PNG (zlib's checksum included): any body altered on the way would be a 400.
    assert int(total["Request Count"]) > 20
    assert int(total["Failure Count"]) == 0
    assert candidate.requests and candidate.requests > 20 and candidate.error_rate == 0
    assert_everything_deleted(result)
