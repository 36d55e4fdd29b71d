"""The load-test image and the task definitions that run it, read without Docker or AWS: shared by
tests/unit/test_dockerfile.py (static checks) and tests/integration/test_readonly_container.py (the entry point run
under the same file-system constraints).

What Fargate gives a container's bind-mounted path (platform 1.4.0+): a volume owned by root, mode 0755, unless the
image declares the same absolute path as a ``VOLUME``; then the image's directory, with its owner and mode, is copied
into the volume (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html, "Considerations").
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml
from cfn_template import CfnLoader

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "loadtest" / "Dockerfile"
TEMPLATE = REPO / "template.yaml"
IMAGE_UID = 10001  # loadtest/Dockerfile's USER; the tests assert it is what the image runs as
FARGATE_BIND_MOUNT = (0, 0, 0o755)  # (uid, gid, mode) of a bind mount the image does not declare as a VOLUME


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str] | None:
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return None
        return value if isinstance(value, list) else None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped (default escape character ``\\``)."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction are skipped by Docker
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(arguments.split())))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


@dataclass(frozen=True)
class ImageDirectory:
    """A directory a ``RUN install -d -o UID -g GID -m MODE PATH`` creates (the one form the checks read: it
    states owner and mode in one command, for an existing directory too)."""

    path: str
    uid: int
    gid: int
    mode: int
    instruction: int  # index in the Dockerfile's instructions


def shell_commands(arguments: str) -> list[list[str]]:
    """The simple commands of a RUN line (split at ``&&``, ``||`` and ``;``)."""
    commands: list[list[str]] = [[]]
    lexer = shlex.shlex(arguments, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    for word in lexer:
        if word in ("&&", "||", ";"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def created_directories(instructions: list[Instruction]) -> dict[str, ImageDirectory]:
    """Path -> the last ``install -d`` that set its owner and mode."""
    found: dict[str, ImageDirectory] = {}
    for index, instruction in enumerate(instructions):
        if instruction.keyword != "RUN":
            continue
        for words in shell_commands(instruction.arguments):
            if words[0] != "install" or "-d" not in words:
                continue
            options: dict[str, str] = {}
            paths = []
            rest = iter(words[1:])
            for word in rest:
                if word in ("-o", "-g", "-m"):
                    options[word] = next(rest)
                elif not word.startswith("-"):
                    paths.append(word)
            uid, gid = int(options.get("-o", "0")), int(options.get("-g", "0"))  # install's defaults: the builder
            mode = int(options.get("-m", "755"), 8)
            for path in paths:
                found[path.rstrip("/") or "/"] = ImageDirectory(path, uid, gid, mode, index)
    return found


def declared_volumes(instructions: list[Instruction]) -> dict[str, int]:
    """Path -> index of the ``VOLUME`` instruction declaring it (JSON array or space-separated form)."""
    volumes: dict[str, int] = {}
    for index, instruction in enumerate(instructions):
        if instruction.keyword == "VOLUME":
            paths = instruction.exec_form() or instruction.arguments.split()
            volumes.update({str(p).rstrip("/") or "/": index for p in paths})
    return volumes


def image_user(instructions: list[Instruction]) -> tuple[int, int | None]:
    users = [i for i in instructions if i.keyword == "USER"]
    assert users, "no USER: the container would run as root"
    user, _, group = users[-1].arguments.partition(":")
    return int(user), int(group) if group else None


def volume_permissions(path: str, instructions: list[Instruction]) -> tuple[int, int, int]:
    """(uid, gid, mode) of the bind volume Fargate mounts at ``path`` for this image."""
    volumes = declared_volumes(instructions)
    directory = created_directories(instructions).get(path)
    if path not in volumes:
        return FARGATE_BIND_MOUNT
    if directory is None or directory.instruction > volumes[path]:
        # Declared but not set before the VOLUME line: the base image's directory (unknown here), so assume the
        # worst the checks could miss.
        return FARGATE_BIND_MOUNT
    return directory.uid, directory.gid, directory.mode


@dataclass(frozen=True)
class MountPoint:
    task_definition: str
    container: str
    path: str
    read_only: bool
    readonly_root: bool


def task_mount_points() -> list[MountPoint]:
    """Every container path of every ECS task definition in template.yaml, with whether the root is read-only."""
    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    mounts = []
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::ECS::TaskDefinition":
            continue
        properties = resource["Properties"]
        volumes = {v["Name"]: v for v in properties.get("Volumes", [])}
        for container in properties["ContainerDefinitions"]:
            for mount in container.get("MountPoints", []):
                volume = volumes[mount["SourceVolume"]]
                assert set(volume) == {"Name"}, f"{name}: volume {volume} is not a Fargate bind mount"
                mounts.append(
                    MountPoint(
                        name,
                        container["Name"],
                        mount["ContainerPath"].rstrip("/") or "/",
                        bool(mount.get("ReadOnly", False)),
                        bool(container.get("ReadonlyRootFilesystem", False)),
                    )
                )
    return mounts
