"""AWS-side tests: adapters with botocore Stubber or moto, the Powertools handlers, the template and the events.

No network and no account: credentials are dummies, and every client is stubbed or mocked.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FUNCTION_EVENTS = REPO / "events" / "functions"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "RightsizingTest",
        "POWERTOOLS_SERVICE_NAME": "rightsizing",
    }.items():
        monkeypatch.setenv(name, value)


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def load_handler(function: str) -> ModuleType:
    """functions/<function>/app.py as a module (every handler is named app.py, so each gets its own name)."""
    path = REPO / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{function}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def function_event(name: str) -> dict[str, Any]:
    return json.loads((FUNCTION_EVENTS / f"{name}.json").read_text())
