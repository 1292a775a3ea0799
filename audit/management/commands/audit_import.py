import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.archive import import_archive, verify_archive


class Command(BaseCommand):
    help = (
        "Check an audit archive (.jsonl.gz) against its manifest and its hash chain, "
        "then bring its records back into the audit log for investigation."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--manifest", type=Path, help="The manifest, when not next to the file."
        )
        parser.add_argument(
            "--verify-only", action="store_true", help="Check the file; import nothing."
        )

    def handle(self, *args, file: Path, manifest=None, verify_only=False, **options):
        if not file.exists():
            raise CommandError(f"{file} does not exist.")
        loaded = json.loads(manifest.read_text()) if manifest else None
        if verify_only:
            result = verify_archive(file, loaded)
            created = 0
        else:
            result, created = import_archive(file, loaded)
        if not result.ok:
            raise CommandError(f"{file}: {result.summary()} Nothing imported.")
        self.stdout.write(self.style.SUCCESS(f"{file}: {result.summary()}"))
        if not verify_only:
            self.stdout.write(f"Imported {created} records.")
