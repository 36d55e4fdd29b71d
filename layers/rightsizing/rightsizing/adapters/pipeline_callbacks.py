"""Answering a SageMaker Pipelines callback step: SendPipelineExecutionStepSuccess / ...Failure.

Each call carries a ClientRequestToken made from the run id and the answer (32-128 characters), so a retried
delivery of the run's end event does not answer twice.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rightsizing.adapters.clients import aws_client


def client_request_token(run_id: str, answer: str) -> str:
    return hashlib.sha256(f"{run_id}/{answer}".encode()).hexdigest()  # 64 characters


class SageMakerPipelineCallbacks:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _sagemaker(self) -> Any:
        if self._client is None:
            self._client = aws_client("sagemaker")
        return self._client

    def succeed(self, token: str, outputs: dict[str, str], run_id: str) -> None:
        self._sagemaker().send_pipeline_execution_step_success(
            CallbackToken=token,
            OutputParameters=[{"Name": name, "Value": value} for name, value in outputs.items()],
            ClientRequestToken=client_request_token(run_id, "success"),
        )

    def fail(self, token: str, reason: str, run_id: str) -> None:
        self._sagemaker().send_pipeline_execution_step_failure(
            CallbackToken=token, FailureReason=reason, ClientRequestToken=client_request_token(run_id, "failure")
        )
