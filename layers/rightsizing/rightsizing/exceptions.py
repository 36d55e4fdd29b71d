"""Domain exceptions. Their class names become Step Functions error names (Lambda ``errorType``), so the state
machine can Catch or Retry them by name."""

from __future__ import annotations


class RightsizingError(Exception):
    """Base class of every error the service raises on purpose."""


class InvalidRequest(RightsizingError):
    """The request failed validation; nothing was created."""


class StoreError(RightsizingError):
    """An artefact could not be read or written."""


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
