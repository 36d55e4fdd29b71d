"""Contract of the local model server: SageMaker's /ping + /invocations over real HTTP, and the process lifecycle.

One gunicorn server is shared by the HTTP tests; lifecycle tests start their own. Plain urllib (no proxies) is used
for HTTP so that the tests exercise the same path as ``ServerProcess.is_ready``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rightsizing_local.model_server import (
    N_FEATURES,
    ServerProcess,
    ensure_builtin_model,
    sample_rows,
    start_server,
    training,
    wait_ready,
)

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def _post(url: str, body: bytes, content_type: str, accept: str | None = None) -> Reply:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=10) as resp:
            return Reply(resp.status, resp.headers.get_content_type(), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers.get_content_type(), err.read())


def _csv(rows: list[list[float]]) -> bytes:
    return "\n".join(",".join(str(v) for v in row) for row in rows).encode()


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(int(entry))
    return members


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def model_path(cache_dir: Path) -> Path:
    return ensure_builtin_model(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def server(model_path: Path) -> Iterator[ServerProcess]:
    # CPU 10_000 does not exist: it must be ignored, not make the start fail.
    srv = start_server(model_path, workers=1, cpus=[0, 10_000])
    try:
        wait_ready(srv)
        yield srv
    finally:
        srv.stop()


@dataclass
class StoppedServer:
    server: ServerProcess
    members_before_stop: list[int]


@pytest.fixture(scope="module")
def stopped_server(model_path: Path) -> StoppedServer:
    # workers=1 but the container environment asks for 2, as SAGEMAKER_MODEL_SERVER_WORKERS does on SageMaker.
    srv = start_server(model_path, workers=1, environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    try:
        wait_ready(srv)
        members = _group_members(srv.process.pid)
    finally:
        srv.stop()
    return StoppedServer(srv, members)


def test_ensure_builtin_model_reuses_cached_file_without_retraining(
    model_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mtime = model_path.stat().st_mtime_ns

    def no_training() -> None:
        raise AssertionError("retrained although the model is cached")

    monkeypatch.setattr(training, "_train", no_training)

    assert ensure_builtin_model(cache_dir=cache_dir) == model_path
    assert model_path.stat().st_mtime_ns == mtime
    assert model_path.name == "fraud-classifier-v1.joblib"


def test_ensure_builtin_model_leaves_no_temporary_files(model_path: Path, cache_dir: Path) -> None:
    assert sorted(p.name for p in cache_dir.iterdir()) == [model_path.name]


def test_ensure_builtin_model_rejects_unknown_name(cache_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown built-in model"):
        ensure_builtin_model("no-such-model", cache_dir=cache_dir)


def test_default_cache_dir_follows_env_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RIGHTSIZING_CACHE_DIR", str(tmp_path))
    assert training.model_path() == tmp_path / "fraud-classifier-v1.joblib"


def test_sample_rows_returns_requested_rows_of_model_width_deterministically() -> None:
    rows = sample_rows(5, seed=3)
    assert len(rows) == 5
    assert all(len(row) == N_FEATURES for row in rows)
    assert sample_rows(5, seed=3) == rows
    assert sample_rows(5, seed=4) != rows


def test_ping_returns_200_when_model_loaded(server: ServerProcess) -> None:
    with _opener.open(f"{server.url}/ping", timeout=5) as resp:
        assert resp.status == 200
    assert server.is_ready()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port``, from the kernel's tables (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for row in Path(table).read_text().splitlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                    found.add(address)
    return found


def test_server_binds_loopback_only(server: ServerProcess) -> None:
    # 0100007F is 127.0.0.1 (little-endian); 0.0.0.0 would be 00000000, any IPv6 address a 32-digit one.
    assert _listening_addresses(server.port) == {"0100007F"}


def test_server_pinned_to_existing_requested_cpus(server: ServerProcess) -> None:
    members = _group_members(server.process.pid)
    assert len(members) == 2  # master + 1 worker
    assert all(os.sched_getaffinity(pid) == {0} for pid in members)


def test_invocations_csv_single_row_returns_one_prediction(server: ServerProcess) -> None:
    reply = _post(server.url, _csv(sample_rows(1)), "text/csv")

    assert reply.status == 200
    assert reply.content_type == "application/json"
    [prediction] = reply.json()["predictions"]
    assert 0.0 <= prediction["score"] <= 1.0
    assert prediction["label"] == int(prediction["score"] >= 0.5)


def test_invocations_csv_several_rows_returns_one_prediction_per_row(server: ServerProcess) -> None:
    reply = _post(server.url, _csv(sample_rows(7, seed=1)) + b"\n", "text/csv")

    assert reply.status == 200
    predictions = reply.json()["predictions"]
    assert len(predictions) == 7
    assert all(0.0 <= p["score"] <= 1.0 and p["label"] in (0, 1) for p in predictions)


def test_invocations_json_instances_matches_csv_scores(server: ServerProcess) -> None:
    rows = sample_rows(3, seed=2)
    as_json = _post(server.url, json.dumps({"instances": rows}).encode(), "application/json")
    as_csv = _post(server.url, _csv(rows), "text/csv")

    assert as_json.status == 200
    assert as_json.json() == as_csv.json()


def test_invocations_json_bare_rows_and_single_row_accepted(server: ServerProcess) -> None:
    rows = sample_rows(2, seed=5)
    several = _post(server.url, json.dumps(rows).encode(), "application/json; charset=utf-8")
    single = _post(server.url, json.dumps(rows[0]).encode(), "application/json")

    assert len(several.json()["predictions"]) == 2
    assert single.json()["predictions"] == several.json()["predictions"][:1]


def test_invocations_accept_csv_returns_one_score_per_line(server: ServerProcess) -> None:
    reply = _post(server.url, _csv(sample_rows(4, seed=6)), "text/csv", accept="text/csv")

    assert reply.status == 200
    assert reply.content_type == "text/csv"
    scores = [float(line) for line in reply.body.decode().splitlines()]
    assert len(scores) == 4
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_invocations_wrong_feature_count_returns_400(server: ServerProcess) -> None:
    reply = _post(server.url, _csv([[0.5] * (N_FEATURES - 1)]), "text/csv")

    assert reply.status == 400
    assert f"expected {N_FEATURES} features per row, got {N_FEATURES - 1}" in reply.json()["error"]


def test_invocations_unparsable_body_returns_400(server: ServerProcess) -> None:
    csv_reply = _post(server.url, b"amount,merchant\n1.0,abc\n", "text/csv")
    json_reply = _post(server.url, b'{"instances": [', "application/json")

    assert (csv_reply.status, json_reply.status) == (400, 400)
    assert "invalid CSV body" in csv_reply.json()["error"]
    assert "invalid JSON body" in json_reply.json()["error"]


def test_invocations_unsupported_content_type_returns_415(server: ServerProcess) -> None:
    reply = _post(server.url, b"\x00\x01", "application/octet-stream")

    assert reply.status == 415
    assert "text/csv" in reply.json()["error"]


def test_start_server_honours_sagemaker_workers_env(stopped_server: StoppedServer) -> None:
    assert len(stopped_server.members_before_stop) == 3  # master + 2 workers, although workers=1 was passed


def test_stop_terminates_master_and_every_worker(stopped_server: StoppedServer) -> None:
    srv = stopped_server.server
    assert srv.exit_code() is not None
    assert _group_members(srv.process.pid) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(srv.process.pid, 0)


def test_stop_closes_port(stopped_server: StoppedServer) -> None:
    assert not _port_open(stopped_server.server.port)
    assert not stopped_server.server.is_ready()


def test_stop_is_idempotent(stopped_server: StoppedServer) -> None:
    srv = stopped_server.server
    code = srv.exit_code()
    srv.stop()
    srv.stop(timeout=0.1)
    assert srv.exit_code() == code


def test_wait_ready_raises_with_log_tail_when_model_missing(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "missing.joblib", workers=1, log_path=tmp_path / "server.log")

    with pytest.raises(RuntimeError, match=r"exited with code \d+ before becoming ready") as excinfo:
        wait_ready(srv, timeout=20)

    assert "model file not found" in str(excinfo.value)
    assert srv.exit_code() not in (None, 0)
    assert _group_members(srv.process.pid) == []
