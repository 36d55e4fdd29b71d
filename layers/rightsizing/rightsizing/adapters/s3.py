"""S3 implementation of the artefact store."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from rightsizing.adapters.clients import aws_client
from rightsizing.exceptions import StoreError


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StoreError(f"not an s3:// URI: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


class S3Store:
    def __init__(self, client: Any = None) -> None:
        self._s3 = client if client is not None else aws_client("s3")

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        bucket, key = split_s3_uri(uri)
        self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        return uri

    def get_bytes(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            raise StoreError(f"cannot read {uri}: {e.response['Error'].get('Code')}") from e

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if e.response["Error"].get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise StoreError(f"cannot check {uri}: {e.response['Error'].get('Code')}") from e
        return True
