"""Domain exceptions. Their class names become Step Functions error names (Lambda ``errorType``), so the state
machine can Catch or Retry them by name."""

from __future__ import annotations


class RightsizingError(Exception):
    """Base class of every error the service raises on purpose."""


class InvalidRequest(RightsizingError):
    """The request failed validation; nothing was created.

    Each problem names the request field it is about (a dotted path such as ``candidates.0.instance_type``), so a
    person can find it and a program can tell problems apart without parsing the message. pydantic's errors become
    one with ``rightsizing.models.messages.invalid_request``, which says each rule in words.
    """

    def __init__(self, field: str, problem: str, *more: tuple[str, str]) -> None:
        self.problems: tuple[tuple[str, str], ...] = ((field, problem), *more)
        super().__init__(f"invalid request: {self.details}")

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.problems)

    @property
    def details(self) -> str:
        """``field: problem; field: problem``, without the leading 'invalid request'."""
        return "; ".join(f"{name}: {text}" for name, text in self.problems)


class StoreError(RightsizingError):
    """An artefact could not be read or written."""


class ObjectTooLarge(StoreError):
    """An object is larger than its reader allows; found from its size before its bytes were read."""


class LoadTestFailed(RightsizingError):
    """The load test produced no result (generator crashed, endpoint unreachable, bad job)."""


class PriceNotFound(RightsizingError):
    """No price is known for an instance type in a region."""


class AmbiguousPrice(RightsizingError):
    """Several prices match one instance type; refusing to guess."""


class QuotaExceeded(RightsizingError):
    """An account quota would be exceeded by the benchmark."""


class BudgetExceeded(RightsizingError):
    """The benchmark's worst-case cost is above the request's budget."""


class AwsThrottled(RightsizingError):
    """An AWS API kept throttling (or was briefly unavailable) after the SDK's own retries; the state machine's
    Retry tries the step again later."""


class CleanupIncomplete(RightsizingError):
    """Some resources of a run could not be deleted yet (e.g. an endpoint still Creating); the sweep runs again."""


class AwsAccessDenied(RightsizingError):
    """The stack's role may not make a call it needs: a deployment problem, not worth retrying."""
