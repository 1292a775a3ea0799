"""`make run` installs no python-ldap (it compiles against libldap; the
``ldap`` extra is for machines with the headers). Without it the console must
still load every authentication backend the settings name, every URL's view
and every task module: the sign-in once failed with a 500 because the
SSO-only gate lived in the LDAP backend's module."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings

SCRIPT = """
import sys
# As if python-ldap and django-auth-ldap were not installed.
for name in ("ldap", "django_auth_ldap"):
    sys.modules[name] = None
import django
django.setup()
from django.conf import settings
from django.contrib.auth import load_backend
from django.urls import get_resolver
for path in settings.AUTHENTICATION_BACKENDS:
    load_backend(path)
get_resolver().url_patterns  # imports every app's views
from console.celery import app
app.loader.import_default_modules()  # every app's tasks
print("ok")
"""


def test_the_console_loads_without_python_ldap():
    env = {
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": "sqlite:////tmp/no-ldap.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "HTTPS": "0",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
