"""Archives uploaded to an S3-compatible bucket: a real S3 API server on
loopback (moto's standalone ``moto_server`` process, spoken to by boto3 over
HTTP), the records removed only after a checked upload, and ``audit_import``
from s3://bucket/key."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import boto3
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import audit
from audit.archive import archive_before
from audit.chain import seal_pending, verify_chain
from audit.models import AuditArchive, AuditRecord
from audit.storage import ArchiveStorageError
from audit.views import export_rows

pytestmark = pytest.mark.django_db

BUCKET = "audit-archive"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server as a process of its own, on a free loopback port."""
    port = free_port()
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert binary, "moto[server] is a dev dependency (pyproject.toml)"
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    settings.AUDIT_ARCHIVE_S3_BUCKET = BUCKET
    settings.AUDIT_ARCHIVE_S3_ENDPOINT_URL = s3_endpoint
    settings.AUDIT_ARCHIVE_S3_PREFIX = "console/audit/"
    settings.AUDIT_ARCHIVE_S3_REGION = "us-east-1"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def old_records(n: int = 4) -> list[AuditRecord]:
    for i in range(n):
        audit.record("test.old", detail={"i": i})
    seal_pending()
    return list(AuditRecord.objects.filter(seq__isnull=False).order_by("seq"))


def test_archive_is_uploaded_checked_and_then_removed(s3, tmp_path):
    old = old_records()
    before = list(export_rows(AuditRecord.objects.filter(pk__in=[r.pk for r in old])))
    archive = archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    key = f"console/audit/{archive.file_name}"
    assert archive.remote == f"s3://{BUCKET}/{key}"
    assert AuditArchive.objects.get().remote == archive.remote
    assert not AuditRecord.objects.filter(pk__in=[r.pk for r in old]).exists()
    # The bucket holds the same bytes as the local file, and the manifest.
    local = (tmp_path / archive.file_name).read_bytes()
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == local
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{key}.manifest.json")["Body"].read())
    assert manifest == archive.manifest()
    rows = [json.loads(line) for line in gzip.decompress(local).decode().splitlines()]
    assert rows == before
    audit.record("test.new")
    seal_pending()
    assert verify_chain().ok


def test_a_failed_upload_keeps_the_records(s3, settings, tmp_path):
    old = old_records(3)
    settings.AUDIT_ARCHIVE_S3_BUCKET = "no-such-bucket"
    with pytest.raises(ArchiveStorageError, match="no-such-bucket"):
        archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    assert AuditRecord.objects.filter(pk__in=[r.pk for r in old]).count() == len(old)
    assert not AuditArchive.objects.exists()
    assert verify_chain().ok
    # Once the bucket is right, the next run archives the same range.
    settings.AUDIT_ARCHIVE_S3_BUCKET = BUCKET
    archive = archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    assert archive.count == len(old) and archive.first_seq == old[0].seq


def test_an_unreachable_endpoint_keeps_the_records(s3, settings, tmp_path):
    old = old_records(2)
    settings.AUDIT_ARCHIVE_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ArchiveStorageError):
        archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    assert AuditRecord.objects.filter(pk__in=[r.pk for r in old]).count() == len(old)
    assert not AuditArchive.objects.exists()


def test_upload_that_the_bucket_reports_differently_is_refused(s3, tmp_path, monkeypatch):
    """The check reads what the bucket holds: a server that stored other bytes
    (simulated by altering the object right after the upload) is caught."""
    from audit import storage

    old = old_records(2)
    real_put = storage.client

    def tampering_client():
        client = real_put()
        put = client.put_object

        def put_object(**kwargs):
            result = put(**kwargs)
            if kwargs["Key"].endswith(".jsonl.gz"):
                # As many bytes as the file (the HEAD's size matches), others.
                size = os.fstat(kwargs["Body"].fileno()).st_size
                put(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=b"x" * size)
            return result

        client.put_object = put_object
        return client

    monkeypatch.setattr(storage, "client", tampering_client)
    with pytest.raises(ArchiveStorageError, match="SHA-256"):
        archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    assert AuditRecord.objects.filter(pk__in=[r.pk for r in old]).count() == len(old)


def test_audit_import_from_the_bucket(s3, tmp_path):
    old = old_records(3)
    before = list(export_rows(AuditRecord.objects.filter(pk__in=[r.pk for r in old])))
    archive = archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    shutil.rmtree(tmp_path)  # only the bucket has it now
    out = StringIO()
    call_command("audit_import", archive.remote, stdout=out)
    assert f"Imported {len(old)} records." in out.getvalue()
    after = list(export_rows(AuditRecord.objects.filter(pk__in=[r.pk for r in old])))
    assert after == before


def test_audit_import_refuses_an_altered_object_in_the_bucket(s3, tmp_path):
    old_records(3)
    archive = archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    key = archive.remote.removeprefix(f"s3://{BUCKET}/")
    rows = [
        json.loads(line)
        for line in gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        .decode()
        .splitlines()
    ]
    rows[1]["actor_name"] = "someone else"
    body = gzip.compress("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode())
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("audit_import", archive.remote, stdout=StringIO())
    assert not AuditRecord.objects.filter(seq__lte=archive.last_seq).exists()
    with pytest.raises(CommandError, match="Could not download"):
        call_command("audit_import", f"s3://{BUCKET}/nothing-here.jsonl.gz", stdout=StringIO())
