"""Artefact store: where requests, jobs, load-test outputs and reports live, addressed by URI.

``s3://bucket/prefix`` on AWS, ``file:///abs/dir`` locally. Both implement the same tiny protocol, so the plan,
collect and recommend steps and the load generator never know which one they write to. The backend (or, for the
load generator and the CLI, ``rightsizing.adapters.s3.store_for``) decides which store serves a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from rightsizing.exceptions import ObjectTooLarge, StoreError


class ArtifactStore(Protocol):
    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> str: ...

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The object's bytes; ``ObjectTooLarge`` (its size checked before any byte is read) above ``max_bytes``."""
        ...

    def exists(self, uri: str) -> bool: ...


def join_uri(prefix: str, *parts: str) -> str:
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts)])


class LocalStore:
    """``file://`` URIs on this machine."""

    @staticmethod
    def path_of(uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise StoreError(f"not a file:// URI: {uri}")
        return Path(unquote(parsed.path))

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        path = self.path_of(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a reader never sees half a file
        return uri

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        path = self.path_of(uri)
        try:
            if max_bytes is not None:
                check_size(uri, path.stat().st_size, max_bytes)
            return path.read_bytes()
        except FileNotFoundError as e:
            raise StoreError(f"no artefact at {uri}") from e

    def exists(self, uri: str) -> bool:
        return self.path_of(uri).is_file()


def check_size(uri: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ObjectTooLarge(f"{uri} is {size / 1e6:.1f} MB, above the {max_bytes // 10**6} MB this step reads")


def local_uri(path: Path) -> str:
    return path.resolve().as_uri()


def put_json(uri: str, document: Any, store: ArtifactStore | None = None) -> str:
    """Write ``document`` as JSON; ``store`` defaults to this machine's (``file://`` URIs only)."""
    store = store or LocalStore()
    body = json.dumps(document, indent=2, sort_keys=False, default=str).encode()
    return store.put_bytes(uri, body, "application/json")


def get_json(uri: str, store: ArtifactStore | None = None) -> Any:
    """Read a JSON document; ``store`` defaults to this machine's (``file://`` URIs only)."""
    return json.loads((store or LocalStore()).get_bytes(uri))
