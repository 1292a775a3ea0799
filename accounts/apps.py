from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, app_config=None, using="default", **kwargs):
    # Permissions of every app exist once auth's own post_migrate handler ran
    # for it; re-syncing after each app is cheap and keeps built-in roles
    # complete when a later issue adds models.
    from accounts.roles import sync_builtin_roles

    sync_builtin_roles()


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_builtin_roles")
        # Role, scope and deactivation changes close the user's live sockets.
        from accounts import live  # noqa: F401
