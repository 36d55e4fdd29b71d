"""Local Step Functions API, for the one call the state machine makes to it: starting the cleanup state machine.

On AWS, a candidate whose endpoint never became deletable hands it to the cleanup state machine
(``states:startExecution``). Locally the request is recorded here and, once the run's execution has ended, the local
run executes the cleanup state machine with it (``rightsizing_local.cleanup``).
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any


class LocalStepFunctions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: list[dict[str, Any]] = []  # {"StateMachineArn", "Input"} of every StartExecution

    def start_execution(self, StateMachineArn: str, Input: str = "{}", **_: Any) -> dict[str, Any]:
        """Called with Step Functions' casing (the interpreter passes the state's Parameters through)."""
        with self._lock:
            self.started.append({"StateMachineArn": StateMachineArn, "Input": json.loads(Input)})
        execution = f"{StateMachineArn.replace(':stateMachine:', ':execution:')}:{uuid.uuid4().hex}"
        return {"ExecutionArn": execution, "StartDate": datetime.now(UTC).isoformat()}
