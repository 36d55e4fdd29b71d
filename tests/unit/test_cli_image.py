"""``rightsize image push`` without Docker or AWS: ECR through a botocore Stubber (every call checked against the
service model), and a fake ``docker`` first on PATH that records its arguments (and the login's stdin)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from rightsizing import __version__
from rightsizing_cli import image
from rightsizing_cli.image import Architecture, ImageError, aws_session, default_tag
from rightsizing_cli.main import app

runner = CliRunner()
REGION = "eu-west-1"
REGISTRY = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
REPOSITORY_URI = f"{REGISTRY}/rightsizing-loadtest"
DIGEST = "sha256:" + "ab" * 32
PASSWORD = "ecr-password-not-for-argv"

FAKE_DOCKER = """#!PYTHON
import json, os, sys
args = sys.argv[1:]
record = {"args": args}
if args[:1] == ["login"]:
    record["stdin"] = sys.stdin.read()
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
mode = os.environ.get("FAKE_DOCKER_MODE", "")
if args[:1] == ["version"]:
    if mode == "daemon-down":
        sys.exit("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
    print("28.2.2")
elif args[:2] == ["buildx", "version"]:
    if mode == "no-buildx":
        sys.exit("docker: 'buildx' is not a docker command.")
    print("github.com/docker/buildx v0.24.0")
elif args[:1] == ["login"]:
    print("Login Succeeded")
elif args[:2] == ["buildx", "build"]:
    print("#1 [internal] load build definition from Dockerfile")
    if mode == "build-fails":
        print("ERROR: failed to solve: process did not complete successfully: exit code: 1")
        sys.exit(1)
    print("#14 pushing layers 2.1s done")
"""


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """A fake docker first on PATH; returns a reader of the calls it received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable = bin_dir / "docker"
    executable.write_text(FAKE_DOCKER.replace("PYTHON", sys.executable))
    executable.chmod(0o755)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))

    def calls() -> list[dict[str, Any]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A git checkout with the Dockerfile, one commit."""
    root = tmp_path / "checkout"
    (root / "loadtest").mkdir(parents=True)
    (root / "loadtest" / "Dockerfile").write_text("FROM python:3.11.14-slim-bookworm\n")
    (root / "README.md").write_text("readme\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "c")
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def ecr(stubbed: Callable[..., tuple[Any, Stubber]], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Stubber]:
    client, stubber = stubbed("ecr", REGION)
    monkeypatch.setattr(image, "ecr_client", lambda session, region: client)
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    return client, stubber


def repository(uri: str = REPOSITORY_URI) -> dict[str, Any]:
    return {
        "repositoryArn": f"arn:aws:ecr:{REGION}:123456789012:repository/rightsizing-loadtest",
        "registryId": "123456789012",
        "repositoryName": "rightsizing-loadtest",
        "repositoryUri": uri,
        "imageTagMutability": "IMMUTABLE",
    }


def expect_image(stubber: Stubber, tag: str, found: bool) -> None:
    params = {"repositoryName": "rightsizing-loadtest", "imageIds": [{"imageTag": tag}]}
    if found:
        detail = {"registryId": "123456789012", "repositoryName": "rightsizing-loadtest", "imageDigest": DIGEST}
        stubber.add_response("describe_images", {"imageDetails": [detail]}, params)
    else:
        stubber.add_client_error("describe_images", "ImageNotFoundException", "not found", 400, expected_params=params)


def expect_login(stubber: Stubber) -> None:
    token = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()
    data = {"authorizationToken": token, "proxyEndpoint": f"https://{REGISTRY}", "expiresAt": datetime.now(UTC)}
    stubber.add_response("get_authorization_token", {"authorizationData": [data]}, {})


def push(*args: str) -> Any:
    return runner.invoke(app, ["image", "push", "--region", REGION, *args])


def test_push_creates_the_repository_logs_in_builds_for_the_architecture_and_pushes(
    docker: Callable[[], list[dict[str, Any]]], ecr: tuple[Any, Stubber], context: Path
) -> None:
    _, stubber = ecr
    commit = git(context, "rev-parse", "--short=12", "HEAD")
    tag = f"{commit}-arm64"
    stubber.add_client_error(
        "describe_repositories",
        "RepositoryNotFoundException",
        "not found",
        400,
        expected_params={"repositoryNames": ["rightsizing-loadtest"]},
    )
    stubber.add_response(
        "create_repository",
        {"repository": repository()},
        {
            "repositoryName": "rightsizing-loadtest",
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
        },
    )
    expect_login(stubber)
    expect_image(stubber, tag, found=True)  # after the push

    result = push("--arch", "ARM64", "--context", str(context), "--output", "json")

    assert result.exit_code == 0, result.output
    stubber.assert_no_pending_responses()
    pushed = json.loads(result.stdout)
    assert pushed["image_uri"] == f"{REPOSITORY_URI}:{tag}"
    assert pushed | {"created_repository": True, "pushed": True, "digest": DIGEST} == pushed
    assert (pushed["architecture"], pushed["platform"], pushed["region"]) == ("ARM64", "linux/arm64", REGION)
    assert pushed["sam_deploy"] == (
        f"sam deploy --parameter-overrides LoadTestImageUri={REPOSITORY_URI}:{tag} LoadTestCpuArchitecture=ARM64"
    )
    calls = docker()
    assert [c["args"][:2] for c in calls] == [
        ["version", "--format"],
        ["buildx", "version"],
        ["login", "--username"],
        ["buildx", "build"],
    ]
    login, build = calls[2], calls[3]
    assert login["args"] == ["login", "--username", "AWS", "--password-stdin", REGISTRY]
    assert login["stdin"] == PASSWORD and not any(PASSWORD in " ".join(c["args"]) for c in calls)
    assert build["args"] == [
        "buildx", "build",
        "--platform", "linux/arm64",
        "--file", str(context / "loadtest" / "Dockerfile"),
        "--tag", f"{REPOSITORY_URI}:{tag}",
        "--provenance=false",
        "--push",
        str(context),
    ]  # fmt: skip
    assert "pushing layers" in result.stderr  # the build's output is relayed on stderr, stdout stays JSON


def test_push_defaults_to_x86_64_and_prints_the_sam_deploy_line(
    docker: Callable[[], list[dict[str, Any]]], ecr: tuple[Any, Stubber], context: Path
) -> None:
    _, stubber = ecr
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    expect_image(stubber, "v7", found=False)
    expect_login(stubber)
    expect_image(stubber, "v7", found=True)

    result = push("--tag", "v7", "--context", str(context))

    assert result.exit_code == 0, result.output
    build = docker()[-1]["args"]
    assert build[build.index("--platform") + 1] == "linux/amd64"
    assert f"pushed: {REPOSITORY_URI}:v7" in result.stdout
    assert f"sam deploy --parameter-overrides LoadTestImageUri={REPOSITORY_URI}:v7 LoadTestCpuArchitecture=X86_64" in (
        result.stdout
    )


def test_an_image_already_pushed_for_this_commit_and_architecture_is_not_rebuilt(
    docker: Callable[[], list[dict[str, Any]]], ecr: tuple[Any, Stubber], context: Path
) -> None:
    _, stubber = ecr
    tag = f"{git(context, 'rev-parse', '--short=12', 'HEAD')}-x86_64"
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    expect_image(stubber, tag, found=True)

    result = push("--context", str(context), "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) | {"pushed": False, "created_repository": False, "digest": DIGEST} == (
        json.loads(result.stdout)
    )
    assert [c["args"][0] for c in docker()] == ["version", "buildx"]  # checked, but no login and no build
    stubber.assert_no_pending_responses()


def test_an_explicit_tag_that_exists_is_refused_not_overwritten(
    docker: Callable[[], list[dict[str, Any]]], ecr: tuple[Any, Stubber], context: Path
) -> None:
    _, stubber = ecr
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    expect_image(stubber, "v1", found=True)

    result = push("--tag", "v1", "--context", str(context))

    assert result.exit_code == 1
    assert "already exists in ECR: choose another --tag" in " ".join(result.stderr.split())
    assert not [c for c in docker() if c["args"][:2] == ["buildx", "build"]]


def test_a_failed_build_exits_1_with_its_last_lines(
    docker: Callable[[], list[dict[str, Any]]],
    ecr: tuple[Any, Stubber],
    context: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, stubber = ecr
    monkeypatch.setenv("FAKE_DOCKER_MODE", "build-fails")
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    expect_image(stubber, "v2", found=False)
    expect_login(stubber)

    result = push("--tag", "v2", "--context", str(context), "--output", "json")

    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["exit_code"] == 1 and "failed to solve" in error["error"]
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("mode", "message"),
    [("daemon-down", "Docker daemon is not reachable (Cannot connect"), ("no-buildx", "buildx is not available")],
)
def test_docker_that_cannot_build_is_refused_before_any_aws_call(
    docker: Callable[[], list[dict[str, Any]]],
    context: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    message: str,
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_MODE", mode)
    monkeypatch.setattr(image, "aws_session", no_aws)

    result = push("--context", str(context))

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert not [c for c in docker() if c["args"][0] in ("login", "buildx") and "build" in c["args"]]


def no_aws(*args: Any) -> Any:
    raise AssertionError("AWS was called before the local checks passed")


def test_missing_docker_is_refused_before_any_aws_call(
    tmp_path: Path, context: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(image, "aws_session", no_aws)

    result = push("--context", str(context))

    assert result.exit_code == 2
    assert "docker not found on PATH" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "has space"], "is not a valid image tag"),
        (["--tag", "x" * 129], "is not a valid image tag"),
        (["--repository", "Upper"], "is not a valid ECR repository name"),
        (["--repository", "a//b"], "is not a valid ECR repository name"),
        (["--context", "/nonexistent"], "no loadtest/Dockerfile under /nonexistent"),
    ],
)
def test_invalid_input_is_refused_before_docker_or_aws(
    docker: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setattr(image, "aws_session", no_aws)

    result = push(*args)

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert docker() == []


def test_an_unknown_architecture_is_refused_by_the_option() -> None:
    result = push("--arch", "amd64")
    assert result.exit_code == 2
    assert "X86_64" in result.output and "ARM64" in result.output


def test_region_is_resolved_as_the_aws_cli_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-south-1\n[profile dev]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)

    assert aws_session(None, None)[1] == "ap-south-1"
    assert aws_session("dev", None)[1] == "eu-central-1"
    monkeypatch.setenv("AWS_PROFILE", "dev")
    assert aws_session(None, None)[1] == "eu-central-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws_session(None, None)[1] == "us-west-2"
    monkeypatch.setenv("AWS_REGION", "ca-central-1")  # the AWS CLI lets AWS_REGION win over AWS_DEFAULT_REGION
    assert aws_session(None, None)[1] == "ca-central-1"
    assert aws_session("dev", "sa-east-1")[1] == "sa-east-1"


def test_no_region_and_unknown_profile_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ImageError, match="no AWS region") as missing:
        aws_session(None, None)
    assert missing.value.exit_code == 2
    with pytest.raises(ImageError, match="nope") as unknown:
        aws_session("nope", "us-east-1")
    assert unknown.value.exit_code == 2


def test_default_tag_names_the_commit_and_architecture_and_marks_uncommitted_image_sources(
    context: Path, tmp_path: Path
) -> None:
    commit = git(context, "rev-parse", "--short=12", "HEAD")
    assert default_tag(context, Architecture.X86_64) == f"{commit}-x86_64"
    (context / "README.md").write_text("changed\n")  # not part of the image
    assert default_tag(context, Architecture.ARM64) == f"{commit}-arm64"
    (context / "loadtest" / "Dockerfile").write_text("FROM python:3.11.15-slim-bookworm\n")
    dirty = default_tag(context, Architecture.ARM64)
    assert dirty.startswith(f"{commit}-dirty-") and dirty.endswith("-arm64")
    outside_git = tmp_path / "tarball"
    (outside_git / "loadtest").mkdir(parents=True)
    assert default_tag(outside_git, Architecture.ARM64) == f"{__version__}-arm64"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_image_runs_the_push_command_with_the_architecture_and_tag() -> None:
    def recipe(*variables: str) -> list[str]:
        repo = Path(__file__).resolve().parents[2]
        dry_run = subprocess.run(["make", "-n", "image", *variables], cwd=repo, capture_output=True, text=True)
        assert dry_run.returncode == 0, dry_run.stderr
        return [line.strip() for line in dry_run.stdout.splitlines() if "rightsize image push" in line]

    assert recipe("IMAGE_ARCH=ARM64", "IMAGE_TAG=v3") == [".venv/bin/rightsize image push --arch ARM64 --tag v3"]
    assert recipe() == [".venv/bin/rightsize image push --arch X86_64"]
