"""Starting the rightsizing state machine from a trigger: Step Functions refuses a name it has seen (90 days), which
is what makes a retried delivery start nothing new."""

from __future__ import annotations

from typing import Any

from rightsizing.adapters import stepfunctions as sfn
from rightsizing.adapters.clients import aws_client
from rightsizing.models.automation import StartedRun


class StepFunctionsRunStarter:
    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._client = client

    def start(self, run_id: str, input_json: str) -> StartedRun:
        client = self._client or aws_client("stepfunctions")
        try:
            # A retry while the run is still going gets that execution back (same name and input): no new run.
            started = sfn.start_execution(client, self.state_machine_arn, run_id, input_json)
        except sfn.ExecutionExists as e:  # finished, or running with another input: either way not started again
            return StartedRun(e.execution_arn, already_started=True)
        return StartedRun(started.execution_arn, already_started=False)
