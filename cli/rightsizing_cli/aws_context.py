"""Which AWS account, region and stack a command talks to, and AWS errors as messages a person can act on.

The profile and region are resolved as the AWS CLI resolves them: ``--profile`` (else ``AWS_PROFILE``, else the
default profile); ``--region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the profile's ``region``; and
then, as a last resort, the region in samconfig.toml, where ``sam deploy`` put the stack. The stack name comes from
``--stack``, else samconfig.toml's ``stack_name``, else ``sagemaker-rightsizing``; its Outputs give the state
machine ARNs and the results bucket.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from rightsizing.exceptions import InvalidRequest, RightsizingError
from rightsizing_cli.emit import Output
from rightsizing_cli.exit_codes import ExitCode

DEFAULT_STACK = "sagemaker-rightsizing"
SAMCONFIG = Path("samconfig.toml")

ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS named profile (default: AWS_PROFILE, else the default profile).")
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, then samconfig.toml's).",
    ),
]
StackOption = Annotated[
    str | None,
    typer.Option("--stack", help=f"The deployed stack (default: samconfig.toml's stack_name, else {DEFAULT_STACK})."),
]

# Error codes that mean "who you are" or "what you may do", not "what you asked for".
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
    }
)
ACCESS_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"})


class AwsSetupError(RightsizingError):
    """No usable profile, region or stack output: nothing was called yet."""


def samconfig_value(key: str, path: Path = SAMCONFIG) -> str | None:
    """``key`` from samconfig.toml's default environment (deploy section first, then global), if the file is here."""
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    default = document.get("default", {})
    for section in ("deploy", "global"):
        value = default.get(section, {}).get("parameters", {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None


def default_stack_name(path: Path = SAMCONFIG) -> str:
    return samconfig_value("stack_name", path) or DEFAULT_STACK


def client_factory(session: Any, service: str, region: str) -> Any:
    """A client with the project's retry and user-agent settings (tests replace this to hand out stubbed clients)."""
    from rightsizing.adapters.clients import client_config

    return session.client(service, region_name=region, config=client_config())


@dataclass
class AwsContext:
    session: Any
    region: str
    stack_name: str
    profile: str | None = None
    flags: str = ""  # the options given, to repeat in the commands a command suggests next
    _clients: dict[str, Any] = field(default_factory=dict)
    _outputs: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client_factory(self.session, service, self.region)
        return self._clients[service]

    def output(self, key: str) -> str:
        """One of the stack's Outputs (StateMachineArn, CleanupStateMachineArn, ResultsBucketName, ...)."""
        if self._outputs is None:
            from rightsizing.adapters.cloudformation import stack_outputs

            self._outputs = stack_outputs(self.client("cloudformation"), self.stack_name)
        try:
            return self._outputs[key]
        except KeyError:
            raise AwsSetupError(
                f"stack {self.stack_name} in {self.region} has no output {key}: is it a rightsizing stack, and is it "
                "up to date (sam deploy)?"
            ) from None


def open_context(
    profile: str | None, region: str | None, stack: str | None, fallback_region: str | None = None
) -> AwsContext:
    """The session and region the AWS CLI would use; ``fallback_region`` (e.g. the request's) if none is set."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile)
    except ProfileNotFound as e:
        raise AwsSetupError(f"{e}: see aws configure list-profiles") from None
    chosen = (
        region or os.environ.get("AWS_REGION") or session.region_name or samconfig_value("region") or fallback_region
    )
    if not chosen:
        raise AwsSetupError("no AWS region: pass --region, set AWS_REGION, or run aws configure")
    flags = "".join(
        f" {option} {value}"
        for option, value in (("--profile", profile), ("--region", region), ("--stack", stack))
        if value
    )
    return AwsContext(
        session=session, region=chosen, stack_name=stack or default_stack_name(), profile=profile, flags=flags
    )


@contextmanager
def aws_errors(out: Output, context: Callable[[], AwsContext | None] = lambda: None) -> Iterator[None]:
    """AWS and setup failures as one-line messages and the documented exit codes."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    from rightsizing.adapters.cloudformation import StackNotFound
    from rightsizing.adapters.stepfunctions import ExecutionNotFound

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        out.fail("no AWS credentials: run aws configure (or aws sso login), or pass --profile", ExitCode.AWS_ACCESS)
    except StackNotFound as e:
        ctx = context()
        where = f" in {ctx.region}" if ctx else ""
        out.fail(f"{e}{where}: deploy it (README, 'Run on AWS') or pass --stack/--region", ExitCode.INVALID)
    except InvalidRequest as e:
        out.fail(e.details, ExitCode.INVALID)
    except (ExecutionNotFound, AwsSetupError) as e:
        out.fail(str(e), ExitCode.INVALID)
    except ClientError as e:
        out.fail(*_client_error(e, context()))
    except EndpointConnectionError as e:
        out.fail(f"cannot reach AWS: {e}", ExitCode.FAILED)
    except BotoCoreError as e:  # e.g. an SSO token that expired: botocore says what to run
        out.fail(f"AWS: {e}", ExitCode.AWS_ACCESS if "token" in str(e).lower() else ExitCode.FAILED)


def _client_error(error: Any, ctx: AwsContext | None) -> tuple[str, ExitCode]:
    code = str(error.response.get("Error", {}).get("Code", ""))
    message = str(error.response.get("Error", {}).get("Message", ""))
    operation = getattr(error, "operation_name", "an AWS call")
    who = f"profile {ctx.profile}" if ctx and ctx.profile else "your credentials"
    if code in CREDENTIAL_CODES:
        return (
            f"AWS refused {who} ({code}: {message}): refresh them (aws configure, aws sso login)",
            ExitCode.AWS_ACCESS,
        )
    if code in ACCESS_CODES:
        return f"access denied to {operation} for {who}: {message}", ExitCode.AWS_ACCESS
    return f"{operation} failed: {code}: {message}", ExitCode.FAILED


@contextmanager
def opened_stack(
    out: Output,
    profile: str | None,
    region: str | None,
    stack: str | None,
    *,
    fallback_region: str | None = None,
) -> Iterator[AwsContext]:
    """The stack's context, opened inside ``aws_errors``: an AWS failure in the block is one line and an exit code."""
    ctx: AwsContext | None = None
    with aws_errors(out, lambda: ctx):
        ctx = open_context(profile, region, stack, fallback_region=fallback_region)
        yield ctx
