"""Typed readers for settings that come from the environment.

Every reader accepts ``NAME_FILE`` as an alternative to ``NAME`` (the value is
read from that file, as Docker and Kubernetes secrets are mounted), and every
bad value stops start-up with a message that names the variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_UNSET = object()


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if value is not None and file_name:
        raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points to {file_name!r}, which cannot be read: {exc.strerror}."
            ) from exc
        except UnicodeDecodeError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points to {file_name!r}, which is not UTF-8 text."
            ) from exc
    return value


def env_str(name: str, default: object = _UNSET) -> str:
    value = _raw(name)
    if value is None:
        if default is _UNSET:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default  # type: ignore[return-value]
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, schemes: set[str], default: str | None = None) -> str | None:
    """A URL whose scheme must be one of ``schemes``; ``None`` when unset."""
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    parsed = urlparse(value.strip())
    if parsed.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(
            f"{name} has the scheme {parsed.scheme or '(none)'!r}; expected one of: {allowed}."
        )
    if parsed.scheme not in {"sqlite", "unix"} and not parsed.hostname:
        raise ImproperlyConfigured(f"{name} has no host name.")
    return value.strip()


# Used by the API rate limits (accounts/api_auth/throttling.py, docs/api.md).
_RATE_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate such as ``600/min``, ``10/s`` or ``100/15min``, read as
    (requests, window in seconds)."""
    value = (_raw(name) or "").strip() or default
    count, _, period = value.partition("/")
    digits = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(digits) :].strip().lower()
    if (
        not count.strip().isdigit()
        or int(count) < 1
        or unit not in _RATE_PERIODS
        or (digits and int(digits) < 1)
    ):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate; write requests/period, such as 600/min, "
            "10/s or 100/15min (periods: s, min, h, d)."
        )
    return int(count), int(digits or 1) * _RATE_PERIODS[unit]


# Used by WebAuthn security keys (accounts/mfa/webauthn.py, docs/mfa.md).
def env_origins(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of web origins (``https://console.example.com``,
    scheme, host and port only), as browsers send them: https, or plain http
    on localhost only."""
    origins = env_list(name, default)
    for origin in origins:
        parsed = urlparse(origin)
        bare = f"{parsed.scheme}://{parsed.netloc}"
        secure = parsed.scheme == "https" or (
            parsed.scheme == "http" and parsed.hostname == "localhost"
        )
        if origin != bare or not parsed.hostname or not secure:
            raise ImproperlyConfigured(
                f"{name}: {origin!r} is not an origin; write https://host[:port] "
                "(http only for localhost), without a path or a trailing slash."
            )
    return origins
