"""The example pipeline's definition, built offline with the sagemaker SDK, and its callback step's JSON: the queue,
the inputs the stack's consumer reads and the typed outputs the stack sends back."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from rightsizing.models.pipeline_step import OUTPUT_NAMES, PipelineCallbackMessage

REPO = Path(__file__).resolve().parents[2]
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/rightsizing-PipelineCallbackQueue-AbC123"


@pytest.fixture
def definition(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    pytest.importorskip(
        "sagemaker", reason="the sagemaker SDK is in the [pipelines] extra, not [dev]: its pins conflict with [dev]'s"
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    spec = importlib.util.spec_from_file_location("rightsizing_pipeline", REPO / "examples" / "rightsizing_pipeline.py")
    assert spec and spec.loader
    example = importlib.util.module_from_spec(spec)
    sys.modules["rightsizing_pipeline"] = example
    spec.loader.exec_module(example)
    document: dict[str, object] = json.loads(example.build_pipeline(QUEUE).definition())
    return document


def test_the_callback_step_sends_the_profile_and_package_to_the_queue(definition: dict[str, object]) -> None:
    [step] = definition["Steps"]  # type: ignore[misc]
    assert step["Type"] == "Callback" and step["Name"] == "Rightsize"
    assert step["Arguments"] == {
        "profile": {"Get": "Parameters.RightsizingProfile"},
        "model_package_arn": {"Get": "Parameters.ModelPackageArn"},
    }
    assert step["SqsQueueUrl"] == QUEUE


def test_the_callback_step_declares_the_outputs_the_stack_sends(definition: dict[str, object]) -> None:
    [step] = definition["Steps"]  # type: ignore[misc]
    declared = {o["OutputName"]: o["OutputType"] for o in step["OutputParameters"]}
    assert list(declared) == list(OUTPUT_NAMES)
    assert declared["instance_count"] == "Integer" and declared["usd_per_hour"] == "Float"


def test_the_message_the_step_sends_is_what_the_consumer_reads() -> None:
    # The pipeline substitutes the parameters' values into Arguments and adds its token and execution ARN.
    message = json.loads((REPO / "events" / "pipelines" / "callback-message.json").read_text())
    parsed = PipelineCallbackMessage.model_validate(message)
    assert set(parsed.arguments.model_dump()) == {"profile", "model_package_arn"}
