"""``rightsize image push``: build the load-generator image for the load-test tasks' CPU architecture, push it to
Amazon ECR (creating the repository if missing) and print the ``sam deploy`` parameters that use it.

Exit codes: 0 pushed (or already in ECR), 1 an AWS or Docker step failed, 2 invalid input or a missing prerequisite
(Docker, buildx, region, credentials), checked before anything is created.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections import deque
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from rightsizing import __version__

EXIT_FAILED = 1
EXIT_INVALID = 2
DEFAULT_REPOSITORY = "rightsizing-loadtest"
DOCKERFILE = Path("loadtest") / "Dockerfile"
# What the image is built from (.dockerignore sends only these): a change here is a change of the image.
IMAGE_SOURCES = ("loadtest", "layers/rightsizing", ".dockerignore")
# ECR's repository-name pattern (service model, 2-256 characters) and Docker's tag grammar.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DOCKER_CHECK_SECONDS = 30

console = Console(highlight=False, stderr=True)  # progress and errors; stdout carries only the result


class Architecture(StrEnum):
    """template.yaml's LoadTestCpuArchitecture values and the Docker platform each one runs."""

    X86_64 = "X86_64"
    ARM64 = "ARM64"

    @property
    def platform(self) -> str:
        return {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}[self.value]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class ImageError(Exception):
    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class PushedImage:
    region: str
    repository: str
    repository_uri: str
    created_repository: bool
    tag: str
    image_uri: str
    digest: str | None
    architecture: str
    platform: str
    pushed: bool  # False: the tag was already in ECR (tags are immutable), nothing was built

    @property
    def sam_deploy(self) -> str:
        return (
            f"sam deploy --parameter-overrides LoadTestImageUri={self.image_uri} "
            f"LoadTestCpuArchitecture={self.architecture}"
        )


# --- inputs ---------------------------------------------------------------------------------------------------


def default_context() -> Path:
    """The checkout this CLI runs from, else the current directory (e.g. an installed CLI run in a clone)."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / DOCKERFILE).is_file() else Path.cwd()


def check_inputs(repository: str, tag: str | None, context: Path) -> None:
    if not (2 <= len(repository) <= 256 and REPOSITORY_NAME.fullmatch(repository)):
        raise ImageError(
            EXIT_INVALID,
            f"--repository {repository!r} is not a valid ECR repository name (lower-case letters, digits and "
            "._-/ separators, 2-256 characters)",
        )
    if tag is not None and not TAG.fullmatch(tag):
        raise ImageError(
            EXIT_INVALID, f"--tag {tag!r} is not a valid image tag (letters, digits, _ . -; at most 128 characters)"
        )
    if not (context / DOCKERFILE).is_file():
        raise ImageError(
            EXIT_INVALID,
            f"no {DOCKERFILE} under {context}: run from a clone of the repository or pass --context with its path",
        )


def default_tag(context: Path, architecture: Architecture) -> str:
    """``<commit>-<arch>`` from git (``-dirty-<UTC time>`` when the image's sources have uncommitted changes, so an
    immutable tag never names two contents), else ``<version>-<arch>`` outside a git checkout."""
    arch = architecture.value.lower()
    git = shutil.which("git")
    commit = _git(git, context, "rev-parse", "--short=12", "HEAD") if git else None
    if commit is None:
        return f"{__version__}-{arch}"
    if _git(git, context, "status", "--porcelain", "--", *IMAGE_SOURCES):
        return f"{commit}-dirty-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{arch}"
    return f"{commit}-{arch}"


def _git(git: str | None, context: Path, *args: str) -> str | None:
    completed = subprocess.run([str(git), "-C", str(context), *args], capture_output=True, text=True)
    return completed.stdout.strip() if completed.returncode == 0 else None


# --- Docker ---------------------------------------------------------------------------------------------------


def check_docker() -> str:
    """The docker executable, once the client, the daemon and buildx answer; nothing is built before this."""
    docker = shutil.which("docker")
    if docker is None:
        raise ImageError(
            EXIT_INVALID, "docker not found on PATH: install Docker (Engine or Desktop, with the buildx plugin)"
        )
    server = _quiet(docker, "version", "--format", "{{.Server.Version}}")
    if server.returncode != 0:
        raise ImageError(
            EXIT_INVALID,
            f"the Docker daemon is not reachable ({_last_line(server.stderr) or 'no answer'}): start Docker, or "
            "point DOCKER_HOST or the docker context at a running engine",
        )
    if _quiet(docker, "buildx", "version").returncode != 0:
        raise ImageError(EXIT_INVALID, "docker buildx is not available: install the Docker buildx plugin")
    return docker


def _quiet(docker: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [docker, *args], input=stdin, capture_output=True, text=True, timeout=DOCKER_CHECK_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise ImageError(EXIT_INVALID, f"docker {args[0]} did not answer within {DOCKER_CHECK_SECONDS} s") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def docker_login(docker: str, ecr: Any) -> None:
    """``docker login`` to the account's registry with an ECR token (12 h), the password on stdin, never argv."""
    data = _aws(ecr.get_authorization_token, "GetAuthorizationToken")["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = data["proxyEndpoint"].removeprefix("https://")
    login = _quiet(docker, "login", "--username", username, "--password-stdin", registry, stdin=password)
    if login.returncode != 0:
        raise ImageError(EXIT_FAILED, f"docker login to {registry} failed: {_last_line(login.stderr)}")


def build_and_push(docker: str, context: Path, image_uri: str, architecture: Architecture) -> None:
    """One buildx build for the task's platform, pushed as it is built; its output goes to stderr as it comes."""
    command = [
        docker, "buildx", "build",
        "--platform", architecture.platform,
        "--file", str(context / DOCKERFILE),
        "--tag", image_uri,
        # A plain image manifest: no provenance attestation, so the immutable tag names one platform's image.
        "--provenance=false",
        "--push",
        str(context),
    ]  # fmt: skip
    console.print(f"building {image_uri} for {architecture.platform}")
    tail: deque[str] = deque(maxlen=5)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as build:
        assert build.stdout is not None
        for line in build.stdout:
            tail.append(line.rstrip())
            typer.echo(line.rstrip(), err=True)
    if build.returncode != 0:
        raise ImageError(
            EXIT_FAILED, f"docker buildx build failed (exit {build.returncode}): {' | '.join(t for t in tail if t)}"
        )


# --- AWS ------------------------------------------------------------------------------------------------------


def aws_session(profile: str | None, region: str | None) -> tuple[Any, str]:
    """A boto3 session and its region, resolved as the AWS CLI does: --region, else AWS_REGION, else
    AWS_DEFAULT_REGION, else the profile's region (--profile, else AWS_PROFILE, else default)."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile)
    except ProfileNotFound as e:
        raise ImageError(EXIT_INVALID, f"{e}: see `aws configure list-profiles`") from None
    resolved = region or os.environ.get("AWS_REGION") or session.region_name
    if not resolved:
        raise ImageError(EXIT_INVALID, "no AWS region: pass --region, set AWS_REGION, or set a region in the profile")
    return session, resolved


def ecr_client(session: Any, region: str) -> Any:
    from rightsizing.adapters.clients import client_config

    return session.client("ecr", region_name=region, config=client_config())


def _aws(call: Any, operation: str, *, missing: str | None = None, **params: Any) -> Any:
    """One ECR call; None for the error code ``missing``; credentials and other errors become one clear line."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return call(**params)
    except NoCredentialsError:
        raise ImageError(
            EXIT_INVALID, "no AWS credentials: run `aws configure` or `aws sso login`, or pass --profile"
        ) from None
    except ClientError as e:
        error = e.response.get("Error", {})
        if missing is not None and error.get("Code") == missing:
            return None
        raise ImageError(EXIT_FAILED, f"ECR {operation}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as e:
        raise ImageError(EXIT_FAILED, f"ECR {operation}: {e}") from None


def ensure_repository(ecr: Any, name: str) -> tuple[str, bool]:
    """(repository URI, whether it was created now)."""
    found = _aws(
        ecr.describe_repositories,
        "DescribeRepositories",
        missing="RepositoryNotFoundException",
        repositoryNames=[name],
    )
    if found is not None:
        return str(found["repositories"][0]["repositoryUri"]), False
    created = _aws(
        ecr.create_repository,
        "CreateRepository",
        repositoryName=name,
        # Immutable: a deployed LoadTestImageUri keeps naming the image it was deployed with; a re-push cannot
        # change what the next task pulls. Default tags are per commit and architecture, so they never collide.
        imageTagMutability="IMMUTABLE",
        # Basic scanning (no charge) of the base image's packages; a registry-level scanning rule overrides it.
        imageScanningConfiguration={"scanOnPush": True},
    )
    console.print(f"created ECR repository {name}")
    return str(created["repository"]["repositoryUri"]), True


def image_digest(ecr: Any, repository: str, tag: str) -> str | None:
    """The digest the tag names in ECR, or None if the repository has no such tag."""
    found = _aws(
        ecr.describe_images,
        "DescribeImages",
        missing="ImageNotFoundException",
        repositoryName=repository,
        imageIds=[{"imageTag": tag}],
    )
    details = found["imageDetails"] if found else []
    return str(details[0]["imageDigest"]) if details else None


# --- the command ----------------------------------------------------------------------------------------------


def push_image(
    repository: str,
    tag: str | None,
    architecture: Architecture,
    context: Path,
    profile: str | None,
    region: str | None,
) -> PushedImage:
    """Every check before anything is created; then the repository, the login, the build and the push."""
    check_inputs(repository, tag, context)
    docker = check_docker()
    session, region_name = aws_session(profile, region)
    explicit_tag = tag is not None
    tag = tag or default_tag(context, architecture)
    ecr = ecr_client(session, region_name)
    repository_uri, created = ensure_repository(ecr, repository)
    image_uri = f"{repository_uri}:{tag}"
    digest = None if created else image_digest(ecr, repository, tag)
    if digest is not None and explicit_tag:
        # Refused even in a mutable repository: a stack may be running the image this tag names.
        raise ImageError(EXIT_FAILED, f"{image_uri} already exists in ECR: choose another --tag")
    pushed = digest is None
    if pushed:
        docker_login(docker, ecr)
        build_and_push(docker, context, image_uri, architecture)
        digest = image_digest(ecr, repository, tag)
        if digest is None:
            raise ImageError(EXIT_FAILED, f"the push reported success but ECR has no {image_uri}")
    else:
        console.print(f"{image_uri} is already in ECR (same sources, same architecture): nothing to build")
    return PushedImage(
        region_name,
        repository,
        repository_uri,
        created,
        tag,
        image_uri,
        digest,
        architecture.value,
        architecture.platform,
        pushed,
    )


image_app = typer.Typer(no_args_is_help=True, help="The load-generator image that the load-test tasks run.")


@image_app.command("push")
def push_command(
    arch: Annotated[
        Architecture, typer.Option("--arch", help="The stack's LoadTestCpuArchitecture (the image is built for it).")
    ] = Architecture.X86_64,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Image tag. Default: <git commit>-<arch>, or <version>-<arch>.")
    ] = None,
    repository: Annotated[str, typer.Option("--repository", help="ECR repository (created if missing).")] = (
        DEFAULT_REPOSITORY
    ),
    context: Annotated[
        Path | None, typer.Option("--context", help="Repository root to build from. Default: this checkout.")
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE).")] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, profile).")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--output", help="text, or one JSON object on stdout.")] = (
        OutputFormat.text
    ),
) -> None:
    """Build the load-test image for ARCH, push it to ECR, and print the sam deploy parameters that use it.

    Exit codes: 0 pushed or already in ECR; 1 an AWS or Docker step failed; 2 invalid input or missing prerequisite.
    """
    try:
        image = push_image(repository, tag, arch, (context or default_context()).resolve(), profile, region)
    except ImageError as e:
        if output is OutputFormat.json:
            typer.echo(json.dumps({"error": str(e), "exit_code": e.exit_code}, indent=2))
        console.print(f"[red]error:[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(e.exit_code) from None
    if output is OutputFormat.json:
        typer.echo(json.dumps({**asdict(image), "sam_deploy": image.sam_deploy}, indent=2))
        return
    typer.echo(f"{'pushed' if image.pushed else 'already in ECR'}: {image.image_uri}")
    typer.echo(f"digest: {image.digest}")
    typer.echo("Deploy the stack with it (its other parameters keep their current values; on the first deploy,")
    typer.echo("run `sam deploy --guided` and give these two values when asked):")
    typer.echo(f"  {image.sam_deploy}")
