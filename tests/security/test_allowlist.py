"""The IP allowlist: client address (trusted proxies only), console / API
scope, expiry, exempt paths, caching and self-lockout."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from security import allowlist
from security.models import AllowlistEntry
from security.net import client_ip, parse_address
from tests.security.test_sessions import make_user, sign_in

OFFICE = "203.0.113.0/24"
INSIDE = "203.0.113.10"
OUTSIDE = "192.0.2.77"
PROXY = "10.0.0.5"


@pytest.fixture(autouse=True)
def _fresh_cache(db):
    allowlist.invalidate()
    yield
    allowlist.invalidate()


def entry(network=OFFICE, scope="both", **fields) -> AllowlistEntry:
    return AllowlistEntry.objects.create(network=network, scope=scope, **fields)


def get(path, address, **headers):
    return Client(REMOTE_ADDR=address, **headers).get(path)


# --- Client address ---------------------------------------------------------------


def ip_of(settings, remote, forwarded=None, proxies=()):
    settings.TRUSTED_PROXIES = list(proxies)
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


def test_forwarded_for_is_ignored_from_an_untrusted_peer(settings):
    assert ip_of(settings, OUTSIDE, forwarded=INSIDE) == OUTSIDE
    assert ip_of(settings, OUTSIDE, forwarded=INSIDE, proxies=["10.0.0.0/8"]) == OUTSIDE


def test_forwarded_for_is_read_from_a_trusted_proxy(settings):
    proxies = ["10.0.0.0/8"]
    assert ip_of(settings, PROXY, forwarded=INSIDE, proxies=proxies) == INSIDE
    # A client-sent value in front of the real one is not believed: the
    # rightmost address our proxies did not add is the client.
    assert (
        ip_of(settings, PROXY, forwarded=f"1.2.3.4, {INSIDE}, 10.0.0.9", proxies=proxies) == INSIDE
    )
    assert ip_of(settings, PROXY, forwarded=None, proxies=proxies) == PROXY
    assert ip_of(settings, PROXY, forwarded="not-an-ip", proxies=proxies) is None
    assert ip_of(settings, "::ffff:203.0.113.10", proxies=proxies) == INSIDE


# --- Enforcement ---------------------------------------------------------------------


def test_an_empty_list_restricts_nothing(db):
    assert get("/accounts/login/", OUTSIDE).status_code == 200
    assert get("/api/v1/", OUTSIDE).status_code in (401, 403, 200)
    assert b"ip_not_allowed" not in get("/api/v1/", OUTSIDE).content


def test_console_entry_refuses_others_with_a_page(db):
    entry(scope="console")
    assert get("/accounts/login/", INSIDE).status_code == 200
    refused = get("/accounts/login/", OUTSIDE)
    assert refused.status_code == 403
    assert b"Access not allowed from your network" in refused.content
    assert OUTSIDE.encode() in refused.content
    assert "nonce-" in refused["Content-Security-Policy"]
    # Console-only: the API stays open.
    assert b"ip_not_allowed" not in get("/api/v1/", OUTSIDE).content


def test_api_entry_refuses_others_with_json(db):
    entry(scope="api")
    refused = get("/api/v1/", OUTSIDE)
    assert refused.status_code == 403
    assert json.loads(refused.content)["code"] == "ip_not_allowed"
    assert b"ip_not_allowed" not in get("/api/v1/", INSIDE).content
    # API-only: the console stays open.
    assert get("/accounts/login/", OUTSIDE).status_code == 200


def test_expired_entries_let_nobody_in_and_restrict_nothing(db):
    entry(expires=timezone.now() - timedelta(minutes=1))
    assert get("/accounts/login/", OUTSIDE).status_code == 200
    cache.set(
        allowlist.CACHE_KEY,
        [
            allowlist.Rule(
                allowlist.parse_network(OFFICE), "both", timezone.now() - timedelta(seconds=1)
            )
        ],
    )
    # Even while cached, an expired entry stops counting.
    assert get("/accounts/login/", OUTSIDE).status_code == 200


def test_probes_static_files_and_agent_api_are_never_blocked(db):
    entry()
    for path in ("/healthz", "/readyz", "/static/console/console.css", "/api/agent/v1/heartbeat"):
        assert get(path, OUTSIDE).status_code != 403, path


def test_behind_a_trusted_proxy_the_forwarded_address_decides(db, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    entry()
    assert get("/accounts/login/", PROXY, HTTP_X_FORWARDED_FOR=INSIDE).status_code == 200
    assert get("/accounts/login/", PROXY, HTTP_X_FORWARDED_FOR=OUTSIDE).status_code == 403
    # A spoofed header from a peer that is not our proxy is ignored.
    assert get("/accounts/login/", OUTSIDE, HTTP_X_FORWARDED_FOR=INSIDE).status_code == 403


def test_changes_reach_the_middleware_at_once(db, django_assert_num_queries):
    assert get("/accounts/login/", OUTSIDE).status_code == 200
    record = entry()
    assert get("/accounts/login/", OUTSIDE).status_code == 403
    record.delete()
    assert get("/accounts/login/", OUTSIDE).status_code == 200


def test_the_middleware_reads_the_cache_not_the_database(
    db, django_assert_num_queries, django_assert_max_num_queries
):
    entry()
    allowlist.rules()  # fill the cache
    with django_assert_num_queries(0):
        assert not allowlist.is_allowed(parse_address(OUTSIDE), allowlist.CONSOLE)
        assert allowlist.is_allowed(parse_address(INSIDE), allowlist.CONSOLE)
    # The refusal itself is written to the audit log: one INSERT, at most once
    # per address and minute (docs/audit.md), never a read of the allowlist.
    with django_assert_max_num_queries(1):
        assert get("/accounts/login/", OUTSIDE).status_code == 403


# --- Pages and self-lockout -----------------------------------------------------------


@pytest.fixture
def admin_client(db):
    admin = make_user(None, is_superuser=True, is_staff=True)
    return sign_in(admin, address=INSIDE)


def test_list_page_sorts_and_pages(admin_client):
    for i in range(30):
        entry(network=f"198.51.100.{i}/32", comment=f"host {i}")
    url = reverse("security:allowlistentry_list")
    page = admin_client.get(url, {"sort": "-network", "per_page": 10}, REMOTE_ADDR="198.51.100.5")
    assert page.status_code == 200
    assert b"198.51.100.9/32" in page.content
    assert admin_client.get(url, {"scope": "nope"}, REMOTE_ADDR="198.51.100.5").status_code == 400


def test_viewers_cannot_change_the_list(db):
    reader = sign_in(make_user(None, "security.view_allowlistentry"))
    assert reader.get(reverse("security:allowlistentry_list")).status_code == 200
    assert reader.get(reverse("security:allowlistentry_add")).status_code == 403
    response = reader.post(
        reverse("security:allowlistentry_add"), {"network": "0.0.0.0/0", "scope": "both"}
    )
    assert response.status_code == 403
    assert not AllowlistEntry.objects.exists()


def test_adding_a_first_entry_that_excludes_you_is_refused(admin_client):
    url = reverse("security:allowlistentry_add")
    response = admin_client.post(
        url, {"network": "192.0.2.0/24", "scope": "both", "comment": "lab"}
    )
    assert response.status_code == 422
    assert b"would lock you out" in response.content
    assert INSIDE.encode() in response.content
    assert not AllowlistEntry.objects.exists()
    # An API-only entry does not shut the admin out of the console.
    assert admin_client.post(url, {"network": "192.0.2.0/24", "scope": "api"}).status_code == 302
    # One that covers them is fine, and is normalised.
    assert (
        admin_client.post(url, {"network": "203.0.113.99/24", "scope": "console"}).status_code
        == 302
    )
    assert AllowlistEntry.objects.filter(network=OFFICE, scope="console").exists()


def test_bad_input_gets_field_messages(admin_client):
    url = reverse("security:allowlistentry_add")
    response = admin_client.post(url, {"network": "300.1.2.3/8", "scope": "everything"})
    assert response.status_code == 422
    assert b"Enter an IPv4 or IPv6 address or CIDR block" in response.content
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = admin_client.post(url, {"network": OFFICE, "scope": "both", "expires": past})
    assert response.status_code == 422
    assert b"Choose a time in the future" in response.content


def test_editing_your_entry_away_is_refused(admin_client):
    mine = entry()
    url = reverse("security:allowlistentry_edit", args=[mine.uuid])
    response = admin_client.post(url, {"network": "192.0.2.0/24", "scope": "both"})
    assert response.status_code == 422
    assert b"would lock you out" in response.content
    mine.refresh_from_db()
    assert mine.network == OFFICE
    # Making it API-only, while another entry restricts the console, too.
    entry(network="192.0.2.0/24", scope="console")
    assert admin_client.post(url, {"network": OFFICE, "scope": "api"}).status_code == 422


def test_expiring_your_entry_before_the_others_is_refused(admin_client):
    mine = entry()
    entry(network="192.0.2.0/24")  # restricts the console without an end
    soon = (timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    url = reverse("security:allowlistentry_edit", args=[mine.uuid])
    response = admin_client.post(url, {"network": OFFICE, "scope": "both", "expires": soon})
    assert response.status_code == 422
    assert b"would lock you out at" in response.content


def test_deleting_your_entry_is_refused_but_others_go(admin_client):
    mine, other = entry(), entry(network="192.0.2.0/24")
    response = admin_client.post(reverse("security:allowlistentry_delete", args=[mine.uuid]))
    assert response.status_code == 409
    assert b"would lock you out" in response.content
    assert AllowlistEntry.objects.filter(pk=mine.pk).exists()
    response = admin_client.post(reverse("security:allowlistentry_delete", args=[other.uuid]))
    assert response.status_code == 302
    assert not AllowlistEntry.objects.filter(pk=other.pk).exists()


def test_deleting_the_last_entry_opens_everything(admin_client):
    mine = entry()
    assert (
        admin_client.post(reverse("security:allowlistentry_delete", args=[mine.uuid])).status_code
        == 302
    )
    assert get("/accounts/login/", OUTSIDE).status_code == 200
