"""The one place a boto3 client is made, so every adapter retries and identifies itself the same way.

Standard retry mode (exponential backoff with jitter, retry quota) rather than boto3's legacy default; its
attempts are bounded so a Lambda step hands a persistent throttle back to the state machine, whose own Retry
waits much longer. The user-agent suffix names the service in CloudTrail and support cases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rightsizing import __version__

if TYPE_CHECKING:
    from botocore.config import Config

MAX_ATTEMPTS = 5  # first call + 4 retries: a few seconds of backoff, well inside a step's Lambda timeout
USER_AGENT_EXTRA = f"sagemaker-rightsizing/{__version__}"


def client_config(overrides: Config | None = None) -> Config:
    """The shared config, with ``overrides`` (e.g. shorter timeouts) merged on top."""
    from botocore.config import Config

    retries = {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
    base = Config(retries=retries, user_agent_extra=USER_AGENT_EXTRA)
    return base if overrides is None else base.merge(overrides)


def aws_client(service: str, region: str | None = None, *, config: Config | None = None) -> Any:
    """A boto3 client for ``service`` in ``region`` (None: the environment's region) with the shared config."""
    import boto3  # here, not at module level: local mode and tests that pass their own client never need it

    return boto3.client(service, region_name=region, config=client_config(config))
