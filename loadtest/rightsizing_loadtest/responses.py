"""The failure reason of a non-2xx invocation: short, and the same for every request failing the same way.

Locust groups failures by their message, so a reason must name the cause (status, SageMaker error type, message)
without request-specific detail. Pure, so it is tested in-process.

SageMaker runtime (rest-json) names the error in the ``x-amzn-ErrorType`` header (``ThrottlingException:http://…``)
and carries a JSON body with ``message``/``Message``; a local container answers whatever it likes.
"""

from __future__ import annotations

import json

REASON_CHARS = 100  # a short body excerpt names the failure without making every error row unique
BODY_HEAD_BYTES = REASON_CHARS * 4  # decode only the head: charset work on a large body costs generator CPU
THROTTLE_STATUS = 429
THROTTLE_ERRORS = frozenset({"ThrottlingException", "ThrottledException", "TooManyRequestsException"})


def error_type(header: str | None, body: object) -> str:
    """``ThrottlingException`` from ``ThrottlingException:http://internal…`` or from the body's ``__type``/``code``."""
    if header:
        return header.split(":", 1)[0].strip()
    if isinstance(body, dict):
        for key in ("__type", "code", "Code", "ErrorCode"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value.rsplit("#", 1)[-1]
    return ""


def failure_reason(status: int, error_type_header: str | None, body_head: bytes) -> str:
    """e.g. ``throttled: HTTP 400 ThrottlingException: Rate exceeded`` or ``HTTP 500: {"message": …}``."""
    text = body_head[:BODY_HEAD_BYTES].decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    kind = error_type(error_type_header, document)
    message = ""
    if kind and isinstance(document, dict):
        message = next((v for k in ("message", "Message") if isinstance(v := document.get(k), str)), "")
    excerpt = " ".join((message or text).split())[:REASON_CHARS]
    reason = f"HTTP {status}{f' {kind}' if kind else ''}"
    if excerpt:
        reason = f"{reason}: {excerpt}"
    throttled = status == THROTTLE_STATUS or kind in THROTTLE_ERRORS
    return f"throttled: {reason}" if throttled else reason
