import json
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.archive import import_archive, verify_archive


class Command(BaseCommand):
    help = (
        "Check an audit archive (.jsonl.gz, a local file or s3://bucket/key) against its "
        "manifest and its hash chain, then bring its records back into the audit log for "
        "investigation."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="A local path or s3://bucket/key.")
        parser.add_argument(
            "--manifest", type=Path, help="The manifest, when not next to the file."
        )
        parser.add_argument(
            "--verify-only", action="store_true", help="Check the file; import nothing."
        )

    def handle(self, *args, file: str, manifest=None, verify_only=False, **options):
        if file.startswith("s3://"):
            from audit.storage import ArchiveStorageError, download_archive

            with tempfile.TemporaryDirectory(prefix="audit-import-") as directory:
                try:
                    path, _side = download_archive(file, Path(directory))
                except ArchiveStorageError as exc:
                    raise CommandError(str(exc)) from None
                self.run(path, file, manifest, verify_only)
            return
        path = Path(file)
        if not path.exists():
            raise CommandError(f"{file} does not exist.")
        self.run(path, file, manifest, verify_only)

    def run(self, path: Path, name: str, manifest, verify_only: bool) -> None:
        loaded = json.loads(manifest.read_text()) if manifest else None
        if verify_only:
            result = verify_archive(path, loaded)
            created = 0
        else:
            result, created = import_archive(path, loaded)
        if not result.ok:
            raise CommandError(f"{name}: {result.summary()} Nothing imported.")
        self.stdout.write(self.style.SUCCESS(f"{name}: {result.summary()}"))
        if not verify_only:
            self.stdout.write(f"Imported {created} records.")
