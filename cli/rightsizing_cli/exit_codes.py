"""The exit codes of every ``rightsize`` command, in one place (docs/aws-stack.md lists the same table; a test checks).

Scripts may rely on them: e.g. ``rightsize watch RUN`` exits 0 only when the run ended with a recommendation.
"""

from __future__ import annotations

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
    ExitCode.INVALID: "invalid request, option or argument (nothing was started); unknown run or stack",
    ExitCode.NO_RECOMMENDATION: "the run finished but no candidate met the target (see the report for why)",
    ExitCode.AWS_ACCESS: "AWS credentials missing or expired, or access denied (the message names the call)",
    ExitCode.ALREADY_EXISTS: "start: a run with this name already finished (pass --name to run the request again)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}
