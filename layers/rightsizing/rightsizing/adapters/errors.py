"""``ClientError`` → ``rightsizing.exceptions``, once, at the adapter boundary.

Transient codes become ``AwsThrottled`` (the state machine's Retry lists it); a missing permission becomes
``AwsAccessDenied`` (a deployment problem, not worth retrying); anything else is re-raised unchanged so its code
and message reach the execution history as they are.
"""

from __future__ import annotations

from typing import NoReturn

from botocore.exceptions import ClientError

from rightsizing.exceptions import AwsAccessDenied, AwsThrottled

# Codes AWS documents as retryable across services (botocore's standard retry mode uses the same list).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def translate(error: ClientError, doing: str) -> NoReturn:
    """Raise the domain exception for ``error``; ``doing`` says what was attempted, for the message."""
    code = error_code(error)
    if code in TRANSIENT_CODES:
        raise AwsThrottled(f"{doing}: {code}: {error_message(error)}") from error
    if code in ACCESS_DENIED_CODES:
        raise AwsAccessDenied(
            f"{doing}: access denied ({error_message(error)}); the stack's IAM policies (template.yaml) must allow it"
        ) from error
    raise error
