"""Where files are kept, by key: a local folder (the default) or an S3-compatible bucket (boto3, credentials the
standard AWS way). A key is made here alone, from the date and a random id: it names no one and nothing they said."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.settings import MediaSettings


class StorageError(RuntimeError):
    """The store could not be written, read or cleared now (a full disk, an unreachable bucket): tried again later."""


class Storage(Protocol):
    """Keeps bytes under a key."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Keep the bytes (replacing any under the key)."""

    def get(self, key: str) -> bytes | None:
        """The bytes under the key, or None when there are none."""

    def delete(self, key: str) -> None:
        """Remove the key's bytes (nothing to do when there are none)."""

    def describe(self) -> str:
        """Where the files are, in a few words (for the startup line and logs)."""

    def check(self) -> None:
        """StorageError when files cannot be kept there at all (checked once when a long-running process starts)."""


def new_key(now: datetime, extension: str) -> str:
    """A fresh key: the month it came, a random 128-bit id, and the extension of its kind ("2026/12/9f0c….jpg")."""
    return f"{now:%Y/%m}/{secrets.token_hex(16)}{extension}"


def _checked(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key or "\x00" in key:
        raise ValueError("not a storage key")
    return key


class LocalStorage:
    """Files in a folder on this machine (made when first needed; files readable by this user only)."""

    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory).resolve()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_checked(key).split("/"))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write the file whole or not at all (a temporary name, then renamed)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = path.with_name(path.name + ".part")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
            partial.replace(path)
        except OSError as exc:
            raise StorageError(f"the media folder cannot be written ({type(exc).__name__})") from exc

    def get(self, key: str) -> bytes | None:
        """The file's bytes, or None when it is not there."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"the media folder cannot be read ({type(exc).__name__})") from exc

    def delete(self, key: str) -> None:
        """Remove the file (gone already is fine)."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"a media file cannot be deleted ({type(exc).__name__})") from exc

    def describe(self) -> str:
        """The folder."""
        return f"folder {self.root}"

    def check(self) -> None:
        """Make the folder if it is missing, and write and remove a file in it."""
        probe = self.root / f".write-check-{secrets.token_hex(4)}"
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageError(
                f"cannot write to the folder {self.root} ({exc.strerror or type(exc).__name__})"
            ) from exc


class S3Storage:
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph…), private; credentials from the environment, the AWS
    configuration files or the instance's role, as boto3 finds them."""

    def __init__(self, bucket: str, endpoint: str | None = None, client: Any = None) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        if client is None:
            import boto3  # noqa: PLC0415 (loaded only where a bucket is configured)

            client = boto3.client("s3", endpoint_url=endpoint)
        self.client = client

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Upload the object (private, as the bucket's default)."""
        _checked(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except Exception as exc:  # botocore's errors, and the network's
            raise StorageError(f"the media bucket cannot be written ({type(exc).__name__})") from exc

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        _checked(key)
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=key)
            return bytes(found["Body"].read())
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise StorageError(f"the media bucket cannot be read ({type(exc).__name__})") from exc

    def delete(self, key: str) -> None:
        """Remove the object (S3 answers the same whether it was there or not)."""
        _checked(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise StorageError(f"a media object cannot be deleted ({type(exc).__name__})") from exc

    def describe(self) -> str:
        """The bucket (and its endpoint when not AWS)."""
        return f"bucket {self.bucket}" + (f" at {self.endpoint}" if self.endpoint else "")

    def check(self) -> None:
        """Nothing at start: a bucket out of reach now is retried at each file (the network may come back)."""


def open_storage(settings: MediaSettings) -> Storage:
    """The storage the settings name: the bucket when one is set, else the folder."""
    if settings.s3_bucket:
        return S3Storage(settings.s3_bucket, settings.s3_endpoint)
    return LocalStorage(settings.directory)
