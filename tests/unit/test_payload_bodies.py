"""Binary request bodies: the payloads schema, magic bytes against the content type, the archive's safety, and
payloads.json carrying bytes unchanged from the plan step to the load test."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from png_files import encode_png

from rightsizing import payload_bodies
from rightsizing.exceptions import InvalidRequest
from rightsizing.models.request import MAX_PAYLOAD_BYTES, Payloads, parse_request
from rightsizing.payload_bodies import (
    Body,
    archive_members,
    bodies_from_document,
    check_body,
    collect_bodies,
    payloads_document,
)
from rightsizing.steps.plan import PlanInput, plan_run
from rightsizing.store import get_json, local_uri
from rightsizing_local.backend import local_backend
from rightsizing_local.fake_sagemaker import LocalSageMaker

PNG = encode_png(np.arange(64, dtype=np.uint8).reshape(8, 8))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 16
NPY_BUFFER = io.BytesIO()
np.save(NPY_BUFFER, np.zeros((4, 4), dtype=np.float32))
NPY = NPY_BUFFER.getvalue()


def tar_gz(*members: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    """A tar.gz of (name, data) files and any prepared TarInfo (links, devices, folders)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


# --- the schema -------------------------------------------------------------------------------------------------


def test_samples_base64_must_be_strict_base64_and_within_6_mb() -> None:
    assert Payloads(content_type="image/png", samples_base64=[base64.b64encode(PNG).decode()]).samples_base64
    with pytest.raises(ValueError, match=r"samples_base64\[0\] is not valid base64"):
        Payloads(samples_base64=["not base64!"])
    with pytest.raises(ValueError, match=r"samples_base64\[0\] is empty"):
        Payloads(samples_base64=[""])
    big = base64.b64encode(b"\0" * (MAX_PAYLOAD_BYTES + 1)).decode()
    with pytest.raises(ValueError, match=r"samples_base64\[0\] is larger than InvokeEndpoint's 6 MB"):
        Payloads(samples_base64=[big])


def test_archive_is_a_tar_gz_inside_the_request_folder_or_in_s3(tmp_path: Path) -> None:
    (tmp_path / "samples.tar.gz").write_bytes(tar_gz(("a.png", PNG)))
    document = {"content_type": "image/png", "archive": "samples.tar.gz"}
    payloads = Payloads.model_validate(document, context={"base_dir": tmp_path})
    assert payloads.archive == str(tmp_path / "samples.tar.gz")
    assert Payloads(archive="s3://bucket/runs/samples.tar.gz").archive == "s3://bucket/runs/samples.tar.gz"
    with pytest.raises(ValueError, match=r"a payload archive is a \.tar\.gz"):
        Payloads(archive="s3://bucket/samples.zip")
    with pytest.raises(ValueError, match=r"s3://bucket/key"):
        Payloads(archive="s3://bucket-only.tar.gz")
    with pytest.raises(ValueError, match="outside the request's folder"):
        Payloads.model_validate({"archive": "../samples.tar.gz"}, context={"base_dir": tmp_path / "sub"})


def test_an_archive_alone_is_enough_and_nothing_at_all_is_refused() -> None:
    assert Payloads(archive="s3://bucket/samples.tar.gz").samples == []
    with pytest.raises(ValueError, match="give at least one payload in 'samples', 'samples_base64', 'files' or"):
        Payloads()


# --- magic bytes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("image/png", PNG),
        ("image/jpeg", JPEG),
        ("application/x-image", JPEG),
        ("application/x-image", PNG),
        ("application/x-npy", NPY),
        ("application/x-protobuf", b"\x08\x96\x01"),
        ("application/octet-stream", PNG),
        ("text/csv", "1,2,é".encode()),
        ("application/json; charset=utf-8", b'{"a": 1}'),
    ],
)
def test_a_body_its_content_type_describes_passes(content_type: str, data: bytes) -> None:
    check_body(Body("payloads.files", "cat.bin", data), content_type)


def test_an_image_of_another_format_than_declared_is_named() -> None:
    with pytest.raises(InvalidRequest, match=r"payloads\.files: payload file cat\.png is a JPEG image, but "):
        check_body(Body("payloads.files", "payload file cat.png", JPEG), "image/png")
    with pytest.raises(InvalidRequest, match=r"is a PNG image, but payloads\.content_type image/jpeg needs a JPEG"):
        check_body(Body("payloads.files", "payload file cat.jpg", PNG), "Image/JPEG")
    with pytest.raises(InvalidRequest, match=r"is not a format its leading bytes identify, but .* needs a \.npy"):
        check_body(Body("payloads.files", "x.npy", b"\x00\xfe\xff"), "application/x-npy")
    with pytest.raises(InvalidRequest, match=r"samples\[0\] is text, but .* image/png needs a PNG image: fix the"):
        check_body(Body("payloads.samples", "samples[0]", b"1,2,3"), "image/png")


def test_a_binary_body_under_a_text_type_is_named() -> None:
    with pytest.raises(InvalidRequest, match=r"cat\.png is a PNG image \(not UTF-8 text\), but .* text/csv is a text"):
        check_body(Body("payloads.files", "cat.png", PNG), "text/csv")


def test_an_empty_body_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"samples\[0\] is empty"):
        collect_bodies(Payloads(samples=[""]), lambda _: None)


# --- the archive ------------------------------------------------------------------------------------------------


def test_archive_members_are_read_in_memory_sorted_without_folders_or_mac_metadata() -> None:
    folder = tarfile.TarInfo("imgs")
    folder.type = tarfile.DIRTYPE
    data = tar_gz(("imgs/b.png", PNG), folder, ("./imgs/a.png", PNG + b"x"), ("imgs/._a.png", b"\0\5"))

    assert archive_members(data, "s.tar.gz") == [("imgs/a.png", PNG + b"x"), ("imgs/b.png", PNG)]


@pytest.mark.parametrize("name", ["../evil.png", "imgs/../../evil.png", "/etc/evil.png"])
def test_a_member_that_leaves_the_archive_is_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match=r"payloads\.archive: s\.tar\.gz: member '.*' has an absolute path or"):
        archive_members(tar_gz(("ok.png", PNG), (name, PNG)), "s.tar.gz")


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_links_and_devices_are_refused(kind: bytes) -> None:
    member = tarfile.TarInfo("imgs/link.png")
    member.type = kind
    member.linkname = "/etc/passwd"
    with pytest.raises(InvalidRequest, match=r"member 'imgs/link\.png' is a link or a device"):
        archive_members(tar_gz(member), "s.tar.gz")


def test_an_oversized_member_is_refused_from_its_header() -> None:
    data = tar_gz(("small.png", PNG), ("big.png", b"\0" * (MAX_PAYLOAD_BYTES + 1)))
    with pytest.raises(InvalidRequest, match=r"member 'big\.png' is 6\.3 MB, above InvokeEndpoint's 6 MB body limit"):
        archive_members(data, "s.tar.gz")


def test_member_count_and_total_size_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payload_bodies, "MAX_ARCHIVE_MEMBERS", 3)
    with pytest.raises(InvalidRequest, match="holds more than 3 files"):
        archive_members(tar_gz(*((f"{i}.png", PNG) for i in range(4))), "s.tar.gz")
    monkeypatch.setattr(payload_bodies, "MAX_ARCHIVE_MEMBERS", 1000)
    monkeypatch.setattr(payload_bodies, "MAX_TOTAL_PAYLOAD_BYTES", 2 * len(PNG))
    with pytest.raises(InvalidRequest, match="the load test keeps every body in memory"):
        archive_members(tar_gz(*((f"{i}.png", PNG) for i in range(3))), "s.tar.gz")


@pytest.mark.parametrize("data", [b"not an archive", b"\x1f\x8b\x08\x00garbage", b""])
def test_what_is_not_a_tar_archive_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidRequest, match=r"payloads\.archive: s\.tar\.gz is not a readable tar"):
        archive_members(data, "s.tar.gz")


def test_an_archive_of_folders_only_is_refused() -> None:
    folder = tarfile.TarInfo("imgs")
    folder.type = tarfile.DIRTYPE
    with pytest.raises(InvalidRequest, match=r"s\.tar\.gz holds no files"):
        archive_members(tar_gz(folder), "s.tar.gz")


def test_archive_members_are_checked_against_the_content_type(tmp_path: Path) -> None:
    (tmp_path / "s.tar.gz").write_bytes(tar_gz(("a.png", PNG), ("b.png", JPEG)))
    payloads = Payloads(content_type="image/png", archive=str(tmp_path / "s.tar.gz"))
    with pytest.raises(InvalidRequest, match=r"payloads\.archive: s\.tar\.gz:b\.png is a JPEG image"):
        collect_bodies(payloads, lambda name: Path(name).read_bytes())


# --- payloads.json ----------------------------------------------------------------------------------------------


def test_payloads_json_carries_bytes_unchanged() -> None:
    bodies = [Body("payloads.files", "cat.png", PNG), Body("payloads.samples", "samples[0]", b"1,2")]
    document = json.loads(json.dumps(payloads_document(bodies, "image/png")))
    assert bodies_from_document(document) == [PNG, b"1,2"]
    assert document["names"] == ["cat.png", "samples[0]"]
    assert bodies_from_document(["1,2", "3,4"]) == [b"1,2", b"3,4"]  # what bench and earlier versions wrote
    for bad in ([], {"bodies_base64": []}, {"bodies": ["x"]}, [1, 2]):
        with pytest.raises(ValueError):
            bodies_from_document(bad)


def test_plan_step_writes_image_bodies_as_bytes_and_refuses_a_mislabelled_one(tmp_path: Path, events_dir: Path) -> None:
    document = json.loads((events_dir / "local-image.json").read_text())
    request = parse_request(document, base_dir=events_dir).model_dump(mode="json")
    backend = local_backend(LocalSageMaker(tmp_path / "local"))
    event = PlanInput(request=request, run_id="local-image-20261202-101010-abcd", artifacts_uri=local_uri(tmp_path))

    plan = plan_run(event, backend)

    written = get_json(local_uri(tmp_path / "runs" / plan.run_id / "payloads.json"))
    bodies = bodies_from_document(written)
    with tarfile.open(events_dir / "payloads/images/shapes.tar.gz") as archive:
        members = [archive.extractfile(m).read() for m in sorted(archive.getmembers(), key=lambda m: m.name)]  # type: ignore[union-attr]
    assert bodies == [(events_dir / "payloads/images/disc.png").read_bytes(), *members]
    assert all(body.startswith(b"\x89PNG\r\n\x1a\n") for body in bodies)

    request["payloads"]["content_type"] = "image/jpeg"
    event = PlanInput(request=request, run_id="local-image-20261202-101011-abcd", artifacts_uri=local_uri(tmp_path))
    with pytest.raises(InvalidRequest, match=r"payloads\.files: payload file .*disc\.png is a PNG image, but"):
        plan_run(event, backend)
    assert not (tmp_path / "runs" / event.run_id).exists()
