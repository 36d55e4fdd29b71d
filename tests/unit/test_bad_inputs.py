"""The bad-input corpus (tests/data/bad_requests.json): every request in it is refused twice, each time naming the
field, with nothing created.

- by ``rightsize validate`` (exit 2), whose one line of output is exactly the escaped message: no bracket swallowed
  as rich markup, no raw regular expression without the rule in words, no pydantic jargon, no stack trace;
- by the state machine's own input check, the plan step, before it writes anything.

Each entry is ``{"id", "base", "field", "patch" | "document", "why"?, "cli_only"?}``: ``base`` is the local demo
request (``local``) or the AWS sample ``aws-fraud-tabular.json`` (``aws``); ``patch`` is merged into it as a JSON
merge patch (RFC 7386: objects merge, ``null`` deletes a key, anything else replaces); ``document`` replaces the whole
request. ``cli_only`` says why the plan step cannot refuse the entry itself. A few values are built, so the file
stays small: ``{"$repeat": x, "times": n}`` is x repeated (a string) or n copies (a list); ``{"$key": k, "$value":
v}`` is ``{k: v}``; ``{"$tags": n}`` is n distinct tags; ``{"$number": "inf"}`` is infinity.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rightsizing.adapters.guard import AwsGuard
from rightsizing.exceptions import InvalidRequest, RightsizingError
from rightsizing.ports import Backend
from rightsizing.steps.plan import PlanInput, plan_run
from rightsizing.store import LocalStore, local_uri
from rightsizing_cli.main import app, load_request_file
from rightsizing_local.backend import LocalContainers, LocalPrices, local_backend
from rightsizing_local.fake_sagemaker import LocalSageMaker

REPO = Path(__file__).resolve().parents[2]
CORPUS: list[dict[str, Any]] = json.loads((REPO / "tests" / "data" / "bad_requests.json").read_text())
BASES = {"local": "local-demo.json", "aws": "aws-fraud-tabular.json"}
runner = CliRunner()

# What pydantic says and a person should not have to read; a stack trace.
JARGON = ("should match pattern", "Input should be", "Extra inputs", "Field required", "Value error", "errors.pydantic")
TRACE = ("Traceback", 'File "', "stackTrace")
# A regular expression belongs only in a "(pattern …)" detail, after the rule in words.
PATTERN_DETAIL = re.compile(r"\(pattern \S+\)")
REGEX_LOOKS = ("^[", "]$", "\\d", "\\w", "{0,", "\\S")


def _built(value: Any) -> Any:
    """The corpus's few built values (see the module docstring), everything else as it is."""
    if isinstance(value, list):
        return [_built(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$repeat" in value:
        item = _built(value["$repeat"])
        return item * value["times"] if isinstance(item, str) else [copy.deepcopy(item) for _ in range(value["times"])]
    if "$key" in value:
        return {_built(value["$key"]): _built(value["$value"])}
    if "$tags" in value:
        return {f"tag{index}": "x" for index in range(value["$tags"])}
    if "$number" in value:
        return float(value["$number"])
    return {key: _built(item) for key, item in value.items()}


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict) or any(key.startswith("$") for key in patch):
        return _built(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


def _document(entry: dict[str, Any], payload_dir: str = "payloads") -> Any:
    """The entry's request; the local base's payload file is named relative to ``payload_dir``."""
    if "document" in entry:
        return _built(entry["document"])
    base = json.loads((REPO / "events" / BASES[entry["base"]]).read_text())
    if entry["base"] == "local":
        base["payloads"]["files"] = [f"{payload_dir}/fraud-row.csv"]
    return _merge(base, entry["patch"])


@pytest.fixture
def request_folder(tmp_path: Path) -> Path:
    """A request's folder with the demo's payload file, a file beside the folder and a link from inside to it."""
    folder = tmp_path / "request"
    (folder / "payloads").mkdir(parents=True)
    shutil.copy(REPO / "events" / "payloads" / "fraud-row.csv", folder / "payloads")
    (tmp_path / "outside.csv").write_text("1,2,3\n")
    (folder / "payloads" / "link-out.csv").symlink_to(tmp_path / "outside.csv")
    shutil.copy(REPO / "events" / "payloads" / "images" / "disc.png", folder / "payloads")
    for name, data in _archives().items():
        (folder / "payloads" / name).write_bytes(data)
    return folder


@functools.cache
def _archives() -> dict[str, bytes]:
    """Payload archives the corpus names, built once: a member that escapes, one above 6 MB, a link, not a tar."""
    png = (REPO / "events" / "payloads" / "images" / "disc.png").read_bytes()

    def tar_gz(*members: tuple[str, bytes] | tarfile.TarInfo) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for member in members:
                if isinstance(member, tarfile.TarInfo):
                    archive.addfile(member)
                    continue
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
        return buffer.getvalue()

    link = tarfile.TarInfo("link.png")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return {
        "escapes.tar.gz": tar_gz(("ok.png", png), ("../../evil.png", png)),
        "big-member.tar.gz": tar_gz(("big.png", png + b"\0" * 6 * 1024 * 1024)),
        "link.tar.gz": tar_gz(("ok.png", png), link),
        "not-an-archive.tar.gz": png,
    }


def test_the_corpus_is_large_and_names_each_case_once() -> None:
    ids = [entry["id"] for entry in CORPUS]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)
    assert all(entry["base"] in BASES and entry["field"] for entry in CORPUS)


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["id"] for entry in CORPUS])
def test_validate_refuses_with_a_readable_message_naming_the_field(entry: dict, request_folder: Path) -> None:
    path = request_folder / "request.json"
    path.write_text(json.dumps(_document(entry)))
    with pytest.raises(RightsizingError) as refused:
        load_request_file(path)
    message = str(refused.value)

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 2, result.output
    assert result.output == f"error: {message}\n"  # every character printed: no bracket taken for markup, no wrap
    assert f"{entry['field']}:" in message
    assert not [word for word in (*JARGON, *TRACE) if word in message], message
    words = PATTERN_DETAIL.sub("", message)
    assert not [token for token in REGEX_LOOKS if token in words], f"a pattern outside its detail: {message}"
    for problem in message.split("; "):
        if "(pattern " in problem:  # the rule in words comes first
            assert len(problem[: problem.index("(pattern ")].split()) >= 6, problem


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["id"] for entry in CORPUS])
def test_the_plan_step_refuses_before_writing_anything(entry: dict, request_folder: Path, tmp_path: Path) -> None:
    if "cli_only" in entry:
        pytest.skip(entry["cli_only"])
    # As the state machine gets it from `rightsize run`: the base's payload file made absolute, the entry's own as is.
    document = _document(entry, payload_dir=str(request_folder / "payloads"))
    artifacts = tmp_path / "artifacts"
    event = PlanInput(request=document, run_id="bad-input-20261201-000000-0000", artifacts_uri=local_uri(artifacts))

    with pytest.raises(InvalidRequest) as refused:
        plan_run(event, _backend(entry["base"], tmp_path))

    assert entry["field"] in refused.value.fields, str(refused.value)
    assert not artifacts.exists()


def _backend(base: str, tmp_path: Path) -> Backend:
    if base == "local":
        return local_backend(LocalSageMaker(tmp_path / "local"))
    # The AWS guard with botocore's offline lists; a quota lookup that knows no type, so none is reached first.
    guard = AwsGuard(region="us-east-1", quotas=_NoQuotas())  # type: ignore[arg-type]
    return Backend(
        mode="aws",
        prices=LocalPrices(),
        guard=guard,
        containers=LocalContainers(),
        metrics=None,  # type: ignore[arg-type]
        store=LocalStore(),
        default_poll_seconds=30,
    )


class _NoQuotas:
    def endpoint_usage_quotas(self) -> dict[str, float]:
        return {}


def test_validate_prints_json_errors_unchanged(request_folder: Path) -> None:
    path = request_folder / "request.json"
    path.write_text(json.dumps(_document({"base": "local", "patch": {"name": "[bold]run"}})))
    result = runner.invoke(app, ["validate", str(path), "--output", "json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2 and "name: '[bold]run' is not a valid run name" in document["error"]
