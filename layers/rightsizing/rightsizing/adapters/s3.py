"""S3 implementation of the artefact store, and the store that serves a URI by its scheme."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.exceptions import StoreError
from rightsizing.store import ArtifactStore, LocalStore, check_size


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StoreError(f"not an s3:// URI: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


class S3Store:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def _s3(self) -> Any:
        if self._client is None:  # made on first use: building a backend must not need credentials yet
            self._client = aws_client("s3")
        return self._client

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        bucket, key = split_s3_uri(uri)
        self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        return uri

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """With ``max_bytes``, GetObject's ContentLength is checked before its body is read: a huge object is never
        downloaded (one call, and the size is that of the very object read, which a HeadObject first would not
        guarantee), and the body is read at most one byte past the bound in case the header lied."""
        bucket, key = split_s3_uri(uri)
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as e:
            raise StoreError(f"cannot read {uri}: {e.response['Error'].get('Code')}") from e
        stream = response["Body"]
        try:
            if max_bytes is None:
                body: bytes = stream.read()
                return body
            check_size(uri, int(response.get("ContentLength", 0)), max_bytes)
            body = stream.read(max_bytes + 1)
            check_size(uri, len(body), max_bytes)
            return body
        finally:
            stream.close()

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if e.response["Error"].get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise StoreError(f"cannot check {uri}: {e.response['Error'].get('Code')}") from e
        return True


class UriStore:
    """``s3://`` and ``file://`` URIs alike, each to the store of its scheme (the AWS backend, the CLI)."""

    def __init__(self, s3_client: Any = None) -> None:
        self._local = LocalStore()
        self._s3 = S3Store(s3_client)

    def _for(self, uri: str) -> ArtifactStore:
        scheme = urlparse(uri).scheme
        if scheme == "file":
            return self._local
        if scheme == "s3":
            return self._s3
        raise StoreError(f"unsupported artefact URI scheme '{scheme}' in {uri} (use s3:// or file://)")

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        return self._for(uri).put_bytes(uri, data, content_type)

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        return self._for(uri).get_bytes(uri, max_bytes)

    def exists(self, uri: str) -> bool:
        return self._for(uri).exists(uri)
