from django.core.management.base import BaseCommand, CommandError

from audit.chain import seal_pending, verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain from the last archive to the head; "
        "report the first broken link and exit non-zero when there is one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seal", action="store_true", help="Seal pending records into the chain first."
        )

    def handle(self, *args, seal=False, **options):
        if seal:
            sealed = seal_pending()
            self.stdout.write(f"Sealed {sealed} pending records.")
        result = verify_chain()
        if not result.ok:
            raise CommandError(result.summary())
        self.stdout.write(self.style.SUCCESS(result.summary()))
