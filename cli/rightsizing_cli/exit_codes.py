"""The exit codes of every ``rightsize`` command, in one place (docs/aws-stack.md lists the same table; a test checks).

Scripts may rely on them: e.g. ``rightsize watch RUN`` exits 0 only when the run ended with a recommendation.
"""

from __future__ import annotations

import json
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    INVALID = 2
    NO_RECOMMENDATION = 3
    AWS_ACCESS = 4
    ALREADY_EXISTS = 5
    INTERRUPTED = 130


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success; a finished run made a recommendation",
    ExitCode.FAILED: "the run failed, timed out or was cancelled, or an unexpected error",
    ExitCode.INVALID: "invalid request, option or argument, refused before anything was created (by the CLI or by "
    "the state machine's first step); unknown run or stack",
    ExitCode.NO_RECOMMENDATION: "the run finished but no candidate met the target (see the report for why)",
    ExitCode.AWS_ACCESS: "AWS credentials missing or expired, or access denied (the message names the call)",
    ExitCode.ALREADY_EXISTS: "start: a run with this name already finished (pass --name to run the request again)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}


# The errors the plan step raises to refuse a request before it creates anything (their class names are the Step
# Functions error names): an execution that fails with one was refused, not broken.
REFUSALS = frozenset({"InvalidRequest", "BudgetExceeded", "QuotaExceeded"})


def execution_failure(status: str, error: str | None, cause: str | None) -> tuple[ExitCode, str]:
    """The exit code and the one-line message for an execution that did not succeed.

    A step's exception reaches Step Functions as a Lambda error: ``cause`` is ``{"errorType", "errorMessage",
    "stackTrace"}`` JSON. A person gets the message; the stack trace stays in the execution history.
    """
    message = lambda_error_message(cause)
    if status == "TIMED_OUT" and not message:  # a timeout can carry no cause: say what happened
        message = (
            "the execution ran longer than its TimeoutSeconds; what it created is swept by the cleanup state machine"
        )
    if error in REFUSALS:
        return ExitCode.INVALID, f"the state machine refused the request: {message}"
    return ExitCode.FAILED, f"run {status}" + (f": {error}" if error else "") + (f": {message}" if message else "")


def lambda_error_message(cause: str | None) -> str:
    """``errorMessage`` of a Lambda error's cause, else the cause itself (a state's own Fail cause is plain text)."""
    if not cause:
        return ""
    try:
        document = json.loads(cause)
    except ValueError:
        return cause
    message = document.get("errorMessage") if isinstance(document, dict) else None
    return message if isinstance(message, str) else cause
