import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo administrator once and print its password; later runs change nothing."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Demo admin '{username}' exists (password shown at first start; "
                f"reset it with: make manage ARGS='changepassword {username}')."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(
            username=username,
            email=f"{username}@example.com",
            password=password,
            first_name="Demo",
            last_name="Admin",
        )
        bar = "=" * 60
        self.stdout.write(
            self.style.SUCCESS(
                f"\n{bar}\n  Demo admin created — shown only this once\n"
                f"    username: {username}\n    password: {password}\n{bar}\n"
            )
        )
