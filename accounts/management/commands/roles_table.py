from django.core.management.base import BaseCommand

from accounts.roles import render_permission_table, sync_builtin_roles


class Command(BaseCommand):
    help = "Print the built-in roles' permission table (the one docs/roles.md holds)."

    def handle(self, *args, **options):
        sync_builtin_roles()
        self.stdout.write(render_permission_table())
