"""Request bodies as bytes: where they come from, what their content type promises, and how they travel.

A request's bodies come from inline ``samples`` (text), ``samples_base64`` (binary, inline), ``files`` (a local path
or an ``s3://`` URI each) and an ``archive`` (a tar.gz of sample files, as SageMaker Inference Recommender takes).
``collect_bodies`` reads them all through a ``read`` callable (the plan step's store, or this machine's files for
``rightsize validate``), unpacks the archive without writing anything to disk, and checks each body against the
content type. The plan step stores them once per run as ``payloads.json`` (``payloads_document``), which the
load-test job names by URI: bodies never travel inside a Step Functions state (256 KB) or an ECS override (8 KB).

Pure: no AWS call, no file written.
"""

from __future__ import annotations

import base64
import binascii
import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rightsizing.exceptions import InvalidRequest, ObjectTooLarge, StoreError
from rightsizing.models.request import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
    MAX_PAYLOAD_BYTES,
    MAX_TOTAL_PAYLOAD_BYTES,
    Payloads,
)

# Leading bytes ("magic numbers") of the formats whose declared content type can be checked.
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
_KINDS: tuple[tuple[str, bytes], ...] = (
    ("a JPEG image", JPEG_MAGIC),
    ("a PNG image", PNG_MAGIC),
    ("a .npy array", NPY_MAGIC),
)
# Content type -> the formats a body of it must be (by magic bytes). application/x-image is SageMaker's built-in
# image algorithms' "any image" type.
EXPECTED_KINDS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("a JPEG image",),
    "image/png": ("a PNG image",),
    "application/x-image": ("a JPEG image", "a PNG image"),
    "application/x-npy": ("a .npy array",),
}
# Text content types: their bodies must be UTF-8 (a binary file declared text/csv is a mistake worth naming).
TEXT_TYPES = frozenset({"application/json", "application/jsonlines", "application/x-ndjson", "application/xml"})
# macOS tar adds these beside each file; they are metadata, never meant as request bodies.
_METADATA_PREFIX = "._"
_METADATA_NAMES = frozenset({".DS_Store"})

_LIMITS = {
    "payloads.files": "a payload file is one request body, and InvokeEndpoint takes at most 6 MB",
    "payloads.archive": f"an archive of sample bodies is read in memory, at most {MAX_ARCHIVE_BYTES // 10**6} MB",
}

Reader = Callable[[str], bytes | None]
"""Reads a payload file or archive by its name (path or s3:// URI); None when it cannot be read here (an s3:// URI
offline), in which case its bodies are not checked."""


@dataclass(frozen=True)
class Body:
    """One request body and where it came from (``samples[0]``, a file's name, ``archive.tar.gz:cat.png``)."""

    field: str
    label: str
    data: bytes


def base_type(content_type: str) -> str:
    """``image/png`` of ``Image/PNG; q=1``: the media type without parameters, lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def is_text_type(content_type: str) -> bool:
    kind = base_type(content_type)
    return kind.startswith("text/") or kind in TEXT_TYPES or kind.endswith("+json") or kind.endswith("+xml")


def sniff(data: bytes) -> str | None:
    """What the leading bytes say the body is (``a PNG image``), or None when they match no known format."""
    return next((kind for kind, magic in _KINDS if data.startswith(magic)), None)


def check_body(body: Body, content_type: str) -> None:
    """Refuse a body its content type does not describe, naming it: an image whose bytes are another format, a
    text type whose bytes are not UTF-8, an empty body."""
    if not body.data:
        raise InvalidRequest(body.field, f"{body.label} is empty: a request body needs at least one byte")
    if len(body.data) > MAX_PAYLOAD_BYTES:
        raise InvalidRequest(
            body.field, f"{body.label} is {len(body.data) / 1e6:.1f} MB, above InvokeEndpoint's 6 MB body limit"
        )
    kind = base_type(content_type)
    expected = EXPECTED_KINDS.get(kind)
    if expected is not None:
        found = sniff(body.data)
        if found not in expected:
            what = found or ("text" if _is_utf8(body.data) else "not a format its leading bytes identify")
            raise InvalidRequest(
                body.field,
                f"{body.label} is {what}, but payloads.content_type {kind} needs {' or '.join(expected)}: "
                "fix the content type or the body",
            )
    elif is_text_type(kind) and not _is_utf8(body.data):
        found = sniff(body.data)
        raise InvalidRequest(
            body.field,
            f"{body.label} is {found or 'binary'} (not UTF-8 text), but payloads.content_type {kind} is a text "
            "type: declare its binary type (e.g. image/png, application/x-npy, application/octet-stream)",
        )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_base64(text: str) -> bytes:
    """Strict base64 (the standard alphabet, padded); ValueError otherwise."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"not valid base64 ({e})") from None


def archive_members(data: bytes, label: str) -> list[tuple[str, bytes]]:
    """The regular files of a tar (optionally gzip-compressed) archive, sorted by name, read in memory.

    Refused, naming the member: an absolute path or one with ``..`` (path traversal), a link, device or FIFO, a
    member above 6 MB, more than ``MAX_ARCHIVE_MEMBERS`` files or ``MAX_TOTAL_PAYLOAD_BYTES`` in all. The stream is
    read member by member and each size is checked from its header before its data is read, so a compressed bomb
    stops at the first bound it passes. Folders and macOS metadata (``._*``, ``.DS_Store``) are skipped.
    """
    field = "payloads.archive"
    if len(data) > MAX_ARCHIVE_BYTES:
        raise InvalidRequest(field, f"{label} is {len(data) / 1e6:.0f} MB, above {MAX_ARCHIVE_BYTES // 10**6} MB")
    members: list[tuple[str, bytes]] = []
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
            for member in archive:
                name = member.name
                where = f"{label}: member {name!r}"
                if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                    raise InvalidRequest(
                        field, f"{where} has an absolute path or '..': members must stay inside the archive"
                    )
                if member.isdir():
                    continue
                if not member.isfile():
                    raise InvalidRequest(field, f"{where} is a link or a device: only regular files are bodies")
                base = posixpath.basename(name)
                if base.startswith(_METADATA_PREFIX) or base in _METADATA_NAMES:
                    continue
                if member.size > MAX_PAYLOAD_BYTES:
                    raise InvalidRequest(
                        field, f"{where} is {member.size / 1e6:.1f} MB, above InvokeEndpoint's 6 MB body limit"
                    )
                total += member.size
                if len(members) >= MAX_ARCHIVE_MEMBERS or total > MAX_TOTAL_PAYLOAD_BYTES:
                    raise InvalidRequest(
                        field,
                        f"{label} holds more than {MAX_ARCHIVE_MEMBERS} files or "
                        f"{MAX_TOTAL_PAYLOAD_BYTES // 10**6} MB of bodies: the load test keeps every body in memory",
                    )
                handle = archive.extractfile(member)
                if handle is None:  # pragma: no cover - a regular file always has data
                    continue
                members.append((name.removeprefix("./"), handle.read()))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise InvalidRequest(field, f"{label} is not a readable tar or tar.gz archive ({e})") from None
    if not members:
        raise InvalidRequest(field, f"{label} holds no files")
    return sorted(members)


def iter_bodies(payloads: Payloads, read: Reader) -> Iterator[Body]:
    """Every body of the request in order: samples, samples_base64, files, then the archive's members; a file or
    archive ``read`` cannot read here is skipped."""
    for index, text in enumerate(payloads.samples):
        yield Body("payloads.samples", f"samples[{index}]", text.encode())
    for index, text in enumerate(payloads.samples_base64):
        yield Body("payloads.samples_base64", f"samples_base64[{index}]", decode_base64(text))
    for name in payloads.files:
        data = _read(read, name, "payloads.files")
        if data is not None:
            yield Body("payloads.files", f"payload file {name}", data)
    if payloads.archive:
        data = _read(read, payloads.archive, "payloads.archive")
        if data is not None:
            label = posixpath.basename(payloads.archive)
            for member, member_data in archive_members(data, label):
                yield Body("payloads.archive", f"{label}:{member}", member_data)


def collect_bodies(payloads: Payloads, read: Reader) -> list[Body]:
    """All bodies ``read`` can reach, each checked against the content type; at most ``MAX_TOTAL_PAYLOAD_BYTES``."""
    bodies: list[Body] = []
    total = 0
    for body in iter_bodies(payloads, read):
        check_body(body, payloads.content_type)
        total += len(body.data)
        if total > MAX_TOTAL_PAYLOAD_BYTES:
            raise InvalidRequest(
                body.field,
                f"the bodies pass {MAX_TOTAL_PAYLOAD_BYTES // 10**6} MB in all (at {body.label}): the load test keeps "
                "every body in memory; send fewer or smaller samples",
            )
        bodies.append(body)
    return bodies


def _read(read: Reader, name: str, field: str) -> bytes | None:
    try:
        return read(name)
    except OSError as e:
        raise InvalidRequest(field, f"{name} cannot be read ({e.strerror or e})") from None
    except ObjectTooLarge as e:
        raise InvalidRequest(field, f"{e}: {_LIMITS[field]}") from None
    except StoreError as e:
        raise InvalidRequest(field, f"{name} cannot be read ({e})") from None


# --- payloads.json: the bodies as the load test reads them ------------------------------------------------------


def payloads_document(bodies: list[Body], content_type: str) -> dict[str, Any]:
    """The run's ``payloads.json``: every body base64-encoded (bytes survive JSON unchanged), with its origin."""
    return {
        "content_type": content_type,
        "names": [body.label for body in bodies],
        "bodies_base64": [base64.b64encode(body.data).decode("ascii") for body in bodies],
    }


def bodies_from_document(document: Any) -> list[bytes]:
    """The bodies of a ``payloads.json``: ``{"bodies_base64": [...]}``, or a plain list of text bodies (what
    ``rightsize bench`` and earlier versions write). ValueError when it is neither, or empty."""
    if isinstance(document, list) and document and all(isinstance(item, str) for item in document):
        return [item.encode() for item in document]
    encoded = document.get("bodies_base64") if isinstance(document, dict) else None
    if not isinstance(encoded, list) or not encoded or not all(isinstance(item, str) for item in encoded):
        raise ValueError('expected {"bodies_base64": [...]} with at least one body, or a non-empty list of strings')
    return [decode_base64(item) for item in encoded]
