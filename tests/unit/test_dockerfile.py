"""The load-generator image, checked without building it (no Docker engine here).

``loadtest/Dockerfile`` is parsed into instructions; ``loadtest/requirements.txt`` is compared with the installed
distributions and with every third-party import the entry point can reach; ``.dockerignore`` is evaluated with
Docker's matching rules (last matching pattern wins; a pattern matching a folder matches everything under it).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shlex
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
from container_image import (
    IMAGE_UID,
    Instruction,
    created_directories,
    declared_volumes,
    image_user,
    parse_dockerfile,
    task_mount_points,
    volume_permissions,
)
from packaging.requirements import Requirement

from rightsizing_loadtest import TASK_MODULE

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "loadtest" / "Dockerfile"
REQUIREMENTS = REPO / "loadtest" / "requirements.txt"
DOCKERIGNORE = REPO / ".dockerignore"
PYPROJECT = REPO / "pyproject.toml"
FIRST_PARTY = {
    "rightsizing": REPO / "layers" / "rightsizing" / "rightsizing",
    "rightsizing_loadtest": REPO / "loadtest" / "rightsizing_loadtest",
}
ENTRY_MODULES = (TASK_MODULE, "rightsizing_loadtest.__main__")
DIRECT_DEPENDENCIES = ("boto3", "locust", "pydantic")  # the brief's three, plus whatever the closure pulls in


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def of(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    return [i for i in instructions if i.keyword == keyword]


def pinned_requirements() -> dict[str, Requirement]:
    requirements = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            requirements[canonical(requirement.name)] = requirement
    return requirements


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_parse_dockerfile_joins_continuations_and_drops_comments() -> None:
    parsed = parse_dockerfile("# c\nFROM a:1\nRUN x \\\n  # inside\n  && y\nUSER 1\n")
    assert parsed == [Instruction("FROM", "a:1"), Instruction("RUN", "x && y"), Instruction("USER", "1")]


def test_dockerfile_base_image_is_slim_python_pinned_to_a_patch_version(instructions: list[Instruction]) -> None:
    (base,) = of(instructions, "FROM")  # one stage: nothing is built that a slim runtime would not need
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base.arguments)
    assert match, base.arguments
    # The interpreter the tests run on: binary wheels (gevent, pydantic-core, …) are per minor version.
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]


def test_dockerfile_runs_as_a_numeric_non_root_user(instructions: list[Instruction]) -> None:
    user, group = image_user(instructions)
    assert user == IMAGE_UID  # the user the volume checks and the read-only container test assume
    assert group is None or group != 0
    # The user is created before it is switched to, and nothing runs as root after the switch.
    last_user = max(i for i, instruction in enumerate(instructions) if instruction.keyword == "USER")
    assert "useradd" in " ".join(i.arguments for i in of(instructions[:last_user], "RUN"))
    assert f"--uid {user}" in " ".join(i.arguments for i in of(instructions[:last_user], "RUN"))
    assert not of(instructions[last_user:], "RUN")


def test_every_task_mount_point_is_a_volume_the_image_makes_writable_for_its_user(
    instructions: list[Instruction],
) -> None:
    """Fargate mounts a bind volume root-owned, mode 0755, unless the image declares its path as a VOLUME, whose
    directory (owner, mode) is then copied into it: each path the task definitions mount must be created with the
    image user as owner before a VOLUME line declares it, or the read-only container has nowhere to write."""
    mounts = task_mount_points()
    assert {(m.task_definition, m.path) for m in mounts} >= {
        ("LoadTestTaskDefinition", "/tmp"),
        ("LoadTestWorkerTaskDefinition", "/tmp"),
    }
    volumes = declared_volumes(instructions)
    directories = created_directories(instructions)
    user, _ = image_user(instructions)
    for mount in mounts:
        assert mount.readonly_root, f"{mount.task_definition}: the root file system should be read-only"
        assert mount.path in volumes, f"{mount.path} ({mount.task_definition}) is not a VOLUME in the Dockerfile"
        directory = directories.get(mount.path)
        assert directory, f"{mount.path}: create it with `install -d -o {user} -g {user} -m MODE` before its VOLUME"
        assert directory.instruction < volumes[mount.path], f"{mount.path} is set up after its VOLUME line"
        assert directory.uid == user and directory.mode & 0o700 == 0o700, directory
        assert volume_permissions(mount.path, instructions) == (directory.uid, directory.gid, directory.mode)
        # Nothing may change it after the VOLUME line (the volume would not see the change).
        later = " ".join(i.arguments for i in of(instructions[volumes[mount.path] + 1 :], "RUN"))
        assert mount.path not in later


def test_the_image_declares_no_volume_the_task_definitions_do_not_mount(instructions: list[Instruction]) -> None:
    # An undeclared VOLUME would become a writable anonymous volume beside the read-only root.
    assert set(declared_volumes(instructions)) == {m.path for m in task_mount_points()}


def test_volume_permissions_follow_fargates_bind_mount_rules() -> None:
    without = parse_dockerfile("FROM a:1\nUSER 10001\n")
    assert volume_permissions("/tmp", without) == (0, 0, 0o755)  # Fargate's default: root-owned 0755
    after = parse_dockerfile("FROM a:1\nVOLUME /tmp\nRUN install -d -o 10001 -g 10001 -m 1777 /tmp\n")
    assert volume_permissions("/tmp", after) == (0, 0, 0o755)  # set after VOLUME: the volume never sees it
    before = parse_dockerfile('FROM a:1\nRUN x && install -d -m 0700 -o 7 -g 8 /tmp/ /s\nVOLUME ["/tmp", "/s"]\n')
    assert volume_permissions("/tmp", before) == (7, 8, 0o700)
    assert created_directories(before)["/s"].uid == 7


def test_dockerfile_entrypoint_is_the_task_module_in_exec_form(instructions: list[Instruction]) -> None:
    (entrypoint,) = of(instructions, "ENTRYPOINT")
    assert entrypoint.exec_form() == ["python", "-m", TASK_MODULE]  # exec form: SIGTERM reaches Python (PID 1)
    assert not of(instructions, "CMD")


def test_dockerfile_copies_both_packages_onto_pythonpath(instructions: list[Instruction]) -> None:
    env = " ".join(i.arguments for i in of(instructions, "ENV"))
    pythonpath = re.search(r"PYTHONPATH=(\S+)", env)
    assert pythonpath, "PYTHONPATH not set: the packages would not be importable"
    copies = {}
    for copy in of(instructions, "COPY"):
        *sources, destination = shlex.split(copy.arguments)
        assert not any(s.startswith("--from") for s in sources)
        for source in sources:
            assert (REPO / source).exists(), f"COPY source {source} is not in the repository"
            copies[source] = destination
    for package, folder in FIRST_PARTY.items():
        source = str(folder.relative_to(REPO))
        assert copies.get(source) == f"{pythonpath[1]}/{package}", (source, copies)


def test_dockerfile_installs_pinned_requirements_at_build_time_without_cache(instructions: list[Instruction]) -> None:
    (copy_requirements,) = [c for c in of(instructions, "COPY") if "requirements.txt" in c.arguments]
    source, destination = shlex.split(copy_requirements.arguments)
    assert source == str(REQUIREMENTS.relative_to(REPO))
    installs = [r for r in of(instructions, "RUN") if "pip install" in r.arguments]
    assert len(installs) == 1
    words = shlex.split(installs[0].arguments.split("&&")[0])
    assert "--no-cache-dir" in words
    assert words[words.index("-r") + 1] == destination
    # Nothing but the requirements file: a package named on the command line would escape the pins.
    assert not [w for w in words[words.index("install") + 1 :] if not w.startswith("-") and w != destination]
    # Dependencies are installed before the code is copied, so code changes reuse the dependency layer.
    assert instructions.index(installs[0]) < min(instructions.index(c) for c in of(instructions, "COPY")[1:])


def test_dockerfile_fetches_nothing_at_run_time(instructions: list[Instruction]) -> None:
    run_time = " ".join(i.arguments for i in of(instructions, "ENTRYPOINT") + of(instructions, "CMD"))
    for tool in ("pip", "apt", "curl", "wget", "git"):
        assert tool not in run_time
    assert not [i for i in instructions if i.keyword in ("ADD", "ONBUILD")]  # ADD can fetch URLs


def test_requirements_pin_every_package_exactly() -> None:
    requirements = pinned_requirements()
    assert set(map(canonical, DIRECT_DEPENDENCIES)) <= set(requirements)
    for name, requirement in requirements.items():
        (specifier,) = requirement.specifier
        assert specifier.operator == "==" and "*" not in specifier.version, name
        assert requirement.marker is None, name


def pinned_version(requirement: Requirement) -> str:
    (specifier,) = requirement.specifier
    return specifier.version


def test_requirements_pin_versions_the_project_declares() -> None:
    """The image's direct dependencies are versions pyproject.toml allows, in the base install or the [local] extra
    that carries the load generator (locust is pinned there exactly)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    listed = project["dependencies"] + project["optional-dependencies"]["local"]
    declared = {canonical(r.name): r for r in map(Requirement, listed)}
    pinned = pinned_requirements()
    for name in map(canonical, DIRECT_DEPENDENCIES):
        assert declared[name].specifier.contains(pinned_version(pinned[name])), (name, str(declared[name]))


def test_requirements_are_the_tested_versions_and_a_consistent_closure() -> None:
    """Every dependency of every pin (markers for Linux/CPython 3.11, extras included) is pinned, at a version its
    dependant accepts: the build resolves exactly these, and nothing is left to the resolver on build day.

    Dependencies are read from the installed distributions, so a pin is only checked where the test venv has that
    very version; drift (a fresh venv picked up a newer release) is reported as a warning to re-pin, not a failure:
    a new boto3 on PyPI must not break CI.
    """
    pinned = pinned_requirements()
    problems, drifted = [], []
    for name, requirement in pinned.items():
        installed = importlib.metadata.version(name)
        if installed != pinned_version(requirement):
            drifted.append(f"{name} (pinned {pinned_version(requirement)}, tests run {installed})")
            continue
        for line in importlib.metadata.requires(name) or []:
            dependency = Requirement(line)
            extras = {"", *requirement.extras}
            if dependency.marker and not any(dependency.marker.evaluate({"extra": e}) for e in extras):
                continue  # another platform, Python version or extra
            key = canonical(dependency.name)
            if key not in pinned:
                problems.append(f"{key} (needed by {name}) is not pinned")
            elif not dependency.specifier.contains(pinned_version(pinned[key]), prereleases=True):
                problems.append(f"{key}=={pinned_version(pinned[key])} does not satisfy {name}'s {dependency}")
            elif dependency.extras - pinned[key].extras:
                problems.append(f"{key} needs extras {sorted(dependency.extras)} (for {name})")
    assert not problems
    assert len(drifted) < len(pinned) / 2, f"most pins differ from the test venv: {drifted}"
    if drifted:
        warnings.warn(f"re-pin {REQUIREMENTS.name} from the venv: {', '.join(drifted)}", stacklevel=1)


def module_file(module: str) -> Path | None:
    top, *rest = module.split(".")
    base = FIRST_PARTY[top].joinpath(*rest)
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, module: str) -> set[str]:
    """Absolute names imported anywhere in the module (also inside functions: lazy imports run too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # may name a submodule
    return names


def entry_point_imports() -> tuple[set[str], set[str]]:
    """(first-party modules, third-party top-level names) reachable from the container's entry point."""
    modules: set[str] = set()
    third_party: set[str] = set()
    todo = list(ENTRY_MODULES)
    while todo:
        module = todo.pop()
        if module in modules:
            continue
        path = module_file(module)
        if path is None:
            continue  # a name imported from a module, not a module
        modules.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b.c runs a and a.b
        for name in imported_names(path, module):
            top = name.split(".")[0]
            if top in FIRST_PARTY:
                todo.append(name)
            else:
                third_party.add(top)
    return modules, third_party


def test_every_import_the_entry_point_reaches_is_stdlib_or_pinned() -> None:
    modules, third_party = entry_point_imports()
    assert {TASK_MODULE, "rightsizing.store", "rightsizing.adapters.s3", "rightsizing_loadtest.sigv4"} <= modules
    provided_by = importlib.metadata.packages_distributions()
    pinned = set(pinned_requirements())
    unresolved = {
        name
        for name in third_party - set(sys.stdlib_module_names)
        if not {canonical(d) for d in provided_by.get(name, [])} & pinned
    }
    assert not unresolved, f"imported by the image's code but not in {REQUIREMENTS.name}: {sorted(unresolved)}"
    assert {"locust", "gevent", "pydantic", "boto3", "botocore", "psutil"} <= third_party


def test_first_party_packages_import_nothing_outside_the_image() -> None:
    # Every first-party import the entry point makes resolves to a file that the COPY instructions ship.
    modules, _ = entry_point_imports()
    for module in modules:
        path = module_file(module)
        assert path is not None
        assert any(path.is_relative_to(folder) for folder in FIRST_PARTY.values()), module


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        patterns.append((negated, re.compile(regex)))
    return patterns


def in_build_context(path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    included = True
    for negated, regex in patterns:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            included = negated
    return included


def test_dockerignore_sends_only_what_the_image_copies() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    never = [".venv/pyvenv.cfg", ".git/config", "rightsizing-runs/runs/x/result.json", ".aws/credentials"]
    patterns = dockerignore_patterns()
    sent = {path for path in [*listed, *never] if in_build_context(path, patterns)}
    shipped = {str(REQUIREMENTS.relative_to(REPO))} | {
        path
        for path in listed
        if any(path.startswith(f"{folder.relative_to(REPO)}/") for folder in FIRST_PARTY.values())
    }
    assert sent == shipped
    assert in_build_context("loadtest/rightsizing_loadtest/task.py", patterns)
    assert not in_build_context("loadtest/rightsizing_loadtest/__pycache__/task.cpython-311.pyc", patterns)
