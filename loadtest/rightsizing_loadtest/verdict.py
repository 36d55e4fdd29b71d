"""Whether one invocation passed: the rule the closed-loop users and the open-loop pacer share, so both count
failures alike. Imports Locust: load generator processes only."""

from __future__ import annotations

from typing import Any

from locust.exception import CatchResponseError

from rightsizing_loadtest.responses import BODY_HEAD_BYTES, failure_reason


def judge(response: Any) -> bool:
    """Mark a ``catch_response`` response: 2xx with a complete body passes; anything else fails with its reason.

    Returns whether it passed.
    """
    status = response.status_code
    if status == 0:
        # No HTTP response (refused, reset, timed out): keep the transport exception as the reason.
        error = getattr(response, "error", None)
        response.failure(error if isinstance(error, Exception) else ConnectionError("no response"))
        return False
    if 200 <= status < 300:
        # A 2xx whose body could not be read (connection cut mid-body) is a transport failure.
        body_error = response.request_meta.get("exception")
        if isinstance(body_error, Exception):
            response.failure(body_error)
            return False
        response.success()
        return True
    headers = response.headers
    error_type = headers.get("x-amzn-ErrorType") if headers else None
    head = (response.content or b"")[:BODY_HEAD_BYTES]
    response.failure(CatchResponseError(failure_reason(status, error_type, head)))
    return False
