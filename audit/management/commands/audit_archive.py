from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.archive import archive_before


class Command(BaseCommand):
    help = (
        "Move audit records older than the retention period (AUDIT_RETENTION_DAYS, "
        "or --days) into a compressed JSON Lines archive with a manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args, days=None, **options):
        days = settings.AUDIT_RETENTION_DAYS if days is None else days
        archive = archive_before(timezone.now() - timedelta(days=days))
        if archive is None:
            self.stdout.write("Nothing to archive.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Archived {archive.count} records (#{archive.first_seq}–#{archive.last_seq}) "
                f"to {archive.location}"
            )
        )
