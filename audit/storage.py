"""Audit archives in an S3-compatible bucket (AWS S3, MinIO, Ceph, …).

Configured by ``AUDIT_ARCHIVE_S3_BUCKET`` (and ``_ENDPOINT_URL``, ``_PREFIX``,
``_REGION``); credentials come from boto3's standard chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an
instance role, …) and are never read, logged or stored here.

An upload counts only once it is checked: the bucket must report the file's
size and SHA-256 (the checksum S3 computes on upload when asked with
``ChecksumSHA256``; a server that does not report it has the file read back
and hashed), and the manifest read back must be byte for byte the one
written. Until then the archiver deletes nothing.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings


class ArchiveStorageError(Exception):
    """An upload or download that did not happen, or not as it should have."""


def client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.AUDIT_ARCHIVE_S3_ENDPOINT_URL or None,
        region_name=settings.AUDIT_ARCHIVE_S3_REGION,
        config=Config(
            connect_timeout=10,
            read_timeout=120,
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def key_for(name: str) -> str:
    prefix = settings.AUDIT_ARCHIVE_S3_PREFIX
    return f"{prefix.rstrip('/')}/{name}" if prefix else name


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _hash_object(s3, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for block in iter(lambda: body.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def upload_archive(path: Path, manifest_path: Path, sha256: str) -> str:
    """Upload an archive and its manifest, check them, return s3://bucket/key."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = settings.AUDIT_ARCHIVE_S3_BUCKET
    key = key_for(path.name)
    manifest_key = f"{key}.manifest.json"
    manifest = manifest_path.read_bytes()
    size = path.stat().st_size
    s3 = client()
    try:
        with open(path, "rb") as body:
            # One PUT (up to 5 GB) whose SHA-256 the server checks on arrival.
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType="application/gzip",
                ChecksumSHA256=_b64(sha256),
                Metadata={"sha256": sha256},
            )
        s3.put_object(
            Bucket=bucket,
            Key=manifest_key,
            Body=manifest,
            ContentType="application/json",
            ChecksumSHA256=_b64(hashlib.sha256(manifest).hexdigest()),
        )
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        if head.get("ContentLength") != size:
            raise ArchiveStorageError(
                f"s3://{bucket}/{key} holds {head.get('ContentLength')} bytes, not {size}."
            )
        reported = head.get("ChecksumSHA256")
        if reported is None or "-" in reported:  # not reported, or a multipart composite
            stored_sha = _hash_object(s3, bucket, key)
        else:
            stored_sha = base64.b64decode(reported).hex()
        if stored_sha != sha256:
            raise ArchiveStorageError(f"s3://{bucket}/{key} does not have the file's SHA-256.")
        if s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read() != manifest:
            raise ArchiveStorageError(f"s3://{bucket}/{manifest_key} differs from the manifest.")
    except (BotoCoreError, ClientError) as exc:
        raise ArchiveStorageError(f"Upload to s3://{bucket}/{key} failed: {exc}") from exc
    return f"s3://{bucket}/{key}"


def parse_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not bucket or not key:
        raise ArchiveStorageError(f"{url} is not s3://bucket/key.")
    return bucket, key


def download_archive(url: str, directory: Path) -> tuple[Path, Path | None]:
    """Fetch s3://bucket/key (and its manifest, when the bucket has one next
    to it) into ``directory``; returns the local paths."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_url(url)
    s3 = client()
    path = Path(directory) / Path(key).name
    manifest_path = path.with_name(path.name + ".manifest.json")
    try:
        s3.download_file(bucket, key, str(path))
    except (BotoCoreError, ClientError) as exc:
        raise ArchiveStorageError(f"Could not download {url}: {exc}") from exc
    try:
        s3.download_file(bucket, f"{key}.manifest.json", str(manifest_path))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise ArchiveStorageError(f"Could not download the manifest of {url}: {exc}") from exc
        return path, None
    except BotoCoreError as exc:
        raise ArchiveStorageError(f"Could not download the manifest of {url}: {exc}") from exc
    return path, manifest_path
