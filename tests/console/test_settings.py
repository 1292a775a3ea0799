"""Settings read from the environment: the typed readers, and whole start-up."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from console.env import env_bool, env_int, env_list, env_str, env_url

VAR = "RC_TEST_SETTING"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    monkeypatch.delenv(f"{VAR}_FILE", raising=False)


# --- env_bool -------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "On", " on "])
def test_env_bool_true(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", ""])
def test_env_bool_false(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, True) is False


def test_env_bool_default_when_unset():
    assert env_bool(VAR, True) is True
    assert env_bool(VAR, False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled"])
def test_env_bool_rejects_other_values(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured, match=VAR) as exc:
        env_bool(VAR, False)
    assert repr(raw) in str(exc.value)


# --- env_int --------------------------------------------------------------------


def test_env_int(monkeypatch):
    monkeypatch.setenv(VAR, "42")
    assert env_int(VAR, 7) == 42
    monkeypatch.setenv(VAR, " 8 ")
    assert env_int(VAR, 7) == 8


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_env_int_default_when_unset_or_blank(monkeypatch, raw):
    if raw is not None:
        monkeypatch.setenv(VAR, raw)
    assert env_int(VAR, 7) == 7


@pytest.mark.parametrize("raw", ["ten", "1.5", "10s", "0x10"])
def test_env_int_rejects_non_integers(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR}=.*not a whole number"):
        env_int(VAR, 7)


def test_env_int_minimum(monkeypatch):
    monkeypatch.setenv(VAR, "1")
    assert env_int(VAR, 7, minimum=1) == 1
    monkeypatch.setenv(VAR, "0")
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR}=0 is below the minimum of 1"):
        env_int(VAR, 7, minimum=1)


# --- env_list / env_str ------------------------------------------------------------


def test_env_list(monkeypatch):
    assert env_list(VAR, ["a"]) == ["a"]
    monkeypatch.setenv(VAR, " console.example.com, ,api.example.com ,")
    assert env_list(VAR, ["a"]) == ["console.example.com", "api.example.com"]
    monkeypatch.setenv(VAR, "")
    assert env_list(VAR, ["a"]) == []


def test_env_list_default_is_a_copy():
    default = ["a"]
    env_list(VAR, default).append("b")
    assert default == ["a"]


def test_env_str(monkeypatch):
    assert env_str(VAR, "fallback") == "fallback"
    monkeypatch.setenv(VAR, "value")
    assert env_str(VAR, "fallback") == "value"


def test_env_str_required(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR} is required"):
        env_str(VAR)
    monkeypatch.setenv(VAR, "value")
    assert env_str(VAR) == "value"


# --- env_url --------------------------------------------------------------------

SCHEMES = {"postgres", "sqlite", "redis", "unix"}


@pytest.mark.parametrize(
    "url",
    [
        "postgres://user:secret@db.example.com:5432/console",
        "redis://127.0.0.1:6379/0",
        "sqlite:////var/lib/console/db.sqlite3",
        "unix:///run/redis.sock",
    ],
)
def test_env_url_accepts(monkeypatch, url):
    monkeypatch.setenv(VAR, f"  {url}  ")
    assert env_url(VAR, SCHEMES) == url


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_env_url_unset_gives_default(monkeypatch, raw):
    if raw is not None:
        monkeypatch.setenv(VAR, raw)
    assert env_url(VAR, SCHEMES) is None
    assert env_url(VAR, SCHEMES, "redis://cache") == "redis://cache"


def test_env_url_rejects_scheme(monkeypatch):
    monkeypatch.setenv(VAR, "mysql://db.example.com/console")
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR} has the scheme 'mysql'") as exc:
        env_url(VAR, SCHEMES)
    assert "postgres, redis, sqlite, unix" in str(exc.value)


def test_env_url_rejects_missing_scheme(monkeypatch):
    monkeypatch.setenv(VAR, "db.example.com:5432")
    with pytest.raises(ImproperlyConfigured, match=VAR):
        env_url(VAR, SCHEMES)


def test_env_url_requires_a_host(monkeypatch):
    monkeypatch.setenv(VAR, "redis:///0")
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR} has no host name"):
        env_url(VAR, SCHEMES)


# --- NAME_FILE ------------------------------------------------------------------


def test_file_variant_is_read_and_stripped(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv(f"{VAR}_FILE", str(secret))
    assert env_str(VAR) == "from-a-file"


def test_file_variant_works_for_every_reader(monkeypatch, tmp_path):
    value = tmp_path / "value"
    monkeypatch.setenv(f"{VAR}_FILE", str(value))
    value.write_text("yes\n")
    assert env_bool(VAR, False) is True
    value.write_text("12\n")
    assert env_int(VAR, 0) == 12
    value.write_text("a,b\n")
    assert env_list(VAR, []) == ["a", "b"]
    value.write_text("redis://cache.internal:6379/1\n")
    assert env_url(VAR, SCHEMES) == "redis://cache.internal:6379/1"


def test_file_variant_bad_value_names_the_variable(monkeypatch, tmp_path):
    value = tmp_path / "value"
    value.write_text("maybe")
    monkeypatch.setenv(f"{VAR}_FILE", str(value))
    with pytest.raises(ImproperlyConfigured, match=VAR):
        env_bool(VAR, False)


@pytest.mark.parametrize("direct", ["value", ""])
def test_name_and_name_file_together_is_an_error(monkeypatch, tmp_path, direct):
    value = tmp_path / "value"
    value.write_text("other")
    monkeypatch.setenv(VAR, direct)
    monkeypatch.setenv(f"{VAR}_FILE", str(value))
    with pytest.raises(ImproperlyConfigured, match=rf"either {VAR} or {VAR}_FILE"):
        env_str(VAR, "")


def test_missing_name_file(monkeypatch, tmp_path):
    missing = tmp_path / "nope"
    monkeypatch.setenv(f"{VAR}_FILE", str(missing))
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR}_FILE points to") as exc:
        env_str(VAR, "")
    assert str(missing) in str(exc.value)
    assert "No such file or directory" in str(exc.value)


def test_name_file_that_is_not_text(monkeypatch, tmp_path):
    binary = tmp_path / "key.der"
    binary.write_bytes(b"\x30\x82\xff\xfe")
    monkeypatch.setenv(f"{VAR}_FILE", str(binary))
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR}_FILE points to .*not UTF-8 text"):
        env_str(VAR, "")


def test_name_file_that_is_a_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(f"{VAR}_FILE", str(tmp_path))
    with pytest.raises(ImproperlyConfigured, match=rf"{VAR}_FILE points to .*cannot be read"):
        env_bool(VAR, False)


# --- Whole start-up, in a fresh interpreter ---------------------------------------

START = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'console.settings'; "
    "django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
)
GOOD_KEY = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def start(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """Import the settings with only the given variables (plus VAR_DIR and a
    real REDIS_URL, so that no embedded Redis is started)."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "VAR_DIR": str(tmp_path / "var"),
        "REDIS_URL": settings.REDIS_URL,
    }
    return subprocess.run(
        [sys.executable, "-c", START],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last_line, result.stderr


def test_start_up_with_a_good_environment(tmp_path):
    result = start(tmp_path, SECRET_KEY=GOOD_KEY, DEBUG="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == GOOD_KEY


def test_start_up_refuses_mysql(tmp_path):
    result = start(tmp_path, SECRET_KEY=GOOD_KEY, DATABASE_URL="mysql://u:p@db.example.com/c")
    assert_refused(result, "DATABASE_URL", "'mysql'")


def test_start_up_refuses_http_redis(tmp_path):
    result = start(tmp_path, SECRET_KEY=GOOD_KEY, REDIS_URL="http://x")
    assert_refused(result, "REDIS_URL", "'http'")


def test_start_up_refuses_a_vague_debug(tmp_path):
    result = start(tmp_path, SECRET_KEY=GOOD_KEY, DEBUG="maybe")
    assert_refused(result, "DEBUG='maybe'")


@pytest.mark.parametrize("key", ["too-short-to-be-a-secret", "ab" * 30])
def test_start_up_refuses_a_weak_secret_key(tmp_path, key):
    result = start(tmp_path, SECRET_KEY=key)
    assert_refused(result, "SECRET_KEY must be at least 50 random characters")


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = start(tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "var" / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 50
    assert first.stdout.strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    second = start(tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == key


def test_secret_key_from_a_file(tmp_path):
    key_file = tmp_path / "mounted-secret"
    key_file.write_text(GOOD_KEY + "\n")
    result = start(tmp_path, SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == GOOD_KEY
    assert not (tmp_path / "var" / "secret_key").exists()
