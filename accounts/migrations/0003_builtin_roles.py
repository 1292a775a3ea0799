from django.db import migrations


def create_builtin_roles(apps, schema_editor):
    """The four built-in roles (accounts/roles.py). Permissions are normally
    created after migrate; create them now so the roles get them on a fresh
    database too."""
    from django.contrib.auth.management import create_permissions

    from accounts.roles import sync_builtin_roles

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_builtin_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles_and_scope"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("gateways", "0002_fleet"),
        ("tunnels", "0001_initial"),
        ("security", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_builtin_roles, migrations.RunPython.noop)]
