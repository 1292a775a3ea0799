"""Serve chosen files from npm packages as static files.

``NPM_STATIC_FILES`` maps a static prefix to a package folder under
``node_modules`` and the files to take from it. Only those files are exposed,
so a package's thousands of other files never reach collectstatic or WhiteNoise.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage


class NpmFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        root = Path(settings.BASE_DIR) / "node_modules"
        self.entries = []
        for prefix, (package, files) in settings.NPM_STATIC_FILES.items():
            storage = FileSystemStorage(location=str(root / package))
            storage.prefix = prefix
            self.entries.append((prefix, storage, files))

    def check(self, **kwargs):
        return [
            Error(
                f"node_modules/{Path(storage.location).name}/{name} is missing; "
                "run `make` to install the npm packages.",
                id="console.E001",
            )
            for _, storage, files in self.entries
            for name in files
            if not storage.exists(name)
        ]

    def find(self, path, find_all=False, **kwargs):
        matches = [
            storage.path(name)
            for prefix, storage, files in self.entries
            for name in files
            if path == f"{prefix}/{name}" and storage.exists(name)
        ]
        if find_all:
            return matches
        return matches[0] if matches else None

    def list(self, ignore_patterns):
        for _, storage, files in self.entries:
            for name in files:
                if storage.exists(name):
                    yield name, storage
