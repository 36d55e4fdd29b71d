"""Local Lambda: Invoke runs the layer's step functions in-process, with the local backend.

Errors come back as Lambda does it (FunctionError + errorType/errorMessage payload), so the state machine sees
the same error names (e.g. InvalidRequest, LoadTestFailed) as on AWS.
"""

from __future__ import annotations

import io
import json
import traceback
from typing import Any

from rightsizing.ports import Backend
from rightsizing.steps import STEPS

FUNCTION_PREFIX = "rightsizing-"


def function_arn(step: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_PREFIX}{step}"


class LocalLambda:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.invocations: list[str] = []

    def invoke(self, FunctionName: str, Payload: bytes | str | None = None, **_: Any) -> dict[str, Any]:
        name = FunctionName.rsplit(":", 1)[-1].removeprefix(FUNCTION_PREFIX)
        self.invocations.append(name)
        event = json.loads(Payload or b"{}")
        try:
            result = STEPS[name].handle(event, self._backend)
        except Exception as e:
            body = {
                "errorType": type(e).__name__,
                "errorMessage": str(e),
                "stackTrace": traceback.format_exception(e)[-3:],
            }
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": io.BytesIO(json.dumps(result).encode())}
