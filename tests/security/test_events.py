"""The security events list (filters, full-text search, keyset pagination,
capped counts, scope, query counts), an event's page and acknowledgement,
saved searches and exports."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from security.models import SavedEventSearch, SecurityEvent
from security.views import EVENTS_PAGE_SIZE, decode_cursor, encode_cursor
from tests.factories import GatewayFactory, RegionFactory, user_with_perms, user_with_role
from tests.helpers import login_with_second_factor
from tests.security.test_events_factories import SecurityEventFactory, make_events
from tests.services import require

pytestmark = pytest.mark.django_db

LIST = reverse("security:event_list")
EXPORT = reverse("security:event_export")


@pytest.fixture
def world():
    north, south = (
        RegionFactory(name="North", slug="north"),
        RegionFactory(name="South", slug="south"),
    )
    return {
        "north": north,
        "south": south,
        "gw_n": GatewayFactory(name="gw-north", region=north),
        "gw_s": GatewayFactory(name="gw-south", region=south),
    }


@pytest.fixture
def admin_client(client):
    user = user_with_role("events-admin", "Admin")
    login_with_second_factor(client, user)
    return client


def signatures(response) -> list[str]:
    return [e.signature for e in response.context["page"]["events"]]


def ev(world, **fields):
    fields.setdefault("gateway", world["gw_n"])
    return SecurityEventFactory(**fields)


# --- Filters ---------------------------------------------------------------------


def test_each_filter_on_known_data(world, admin_client):
    now = timezone.now()
    ev(world, signature="old", occurred_at=now - timedelta(days=3), severity="low")
    ev(world, signature="recent-high", occurred_at=now - timedelta(minutes=30), severity="high")
    ev(
        world,
        signature="south-scan",
        gateway=world["gw_s"],
        category="port_scan",
        src_ip="192.0.2.9",
        dst_ip="172.16.5.5",
        dst_port=3389,
        src_port=51000,
        occurred_at=now - timedelta(hours=5),
    )
    ev(
        world,
        signature="acked",
        occurred_at=now - timedelta(days=40),
        acknowledged_at=now,
        src_ip="2001:db8::1",
    )

    def shown(query):
        response = admin_client.get(LIST + "?" + query)
        assert response.status_code == 200, response.content[:400]
        return set(signatures(response))

    assert shown("") == {"old", "recent-high", "south-scan", "acked"}
    assert shown("range=1h") == {"recent-high"}
    assert shown("range=24h") == {"recent-high", "south-scan"}
    assert shown("range=7d") == {"recent-high", "south-scan", "old"}
    assert shown("range=30d") == {"recent-high", "south-scan", "old"}
    since = (now - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    until = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert shown(f"range=custom&since={since}&until={until}") == {"old", "south-scan"}
    assert shown("severity=high&severity=low") == {"recent-high", "old"}
    assert shown("category=port_scan") == {"south-scan"}
    assert shown("region=south") == {"south-scan"}
    assert shown("gateway=gw-south") == {"south-scan"}
    assert shown("src=192.0.2.9") == {"south-scan"}
    assert shown("src=192.0.2.0/24") == {"south-scan"}
    assert shown("src=203.0.113.0/24") == {"old", "recent-high"}
    if connection.vendor == "postgresql":  # SQLite's text fallback: IPv4 and small nets
        assert shown("src=2001:db8::/32") == {"acked"}
    assert shown("dst=172.16.0.0/12") == {"south-scan"}
    assert shown("port=3389") == {"south-scan"}
    assert shown("port=51000") == {"south-scan"}
    assert shown("signature=old") == {"old"}
    assert shown("acknowledged=true") == {"acked"}
    assert shown("acknowledged=false") == {"old", "recent-high", "south-scan"}
    # Combinations narrow.
    assert shown("range=24h&severity=high") == {"recent-high"}
    assert shown("region=north&acknowledged=false&range=7d") == {"old", "recent-high"}
    assert shown("region=south&severity=high") == set()


def test_bad_filter_values_are_a_400_with_messages(world, admin_client):
    ev(world)
    for query in ("src=not-an-ip", "port=70000", "severity=nope", "since=yesterday"):
        response = admin_client.get(LIST + "?" + query)
        assert response.status_code == 400, query
        assert response.context["page"]["events"] == []
        assert b"callout-danger" in response.content


def test_text_search_over_signature_and_message(world, admin_client):
    ev(world, signature="ET SCAN Nmap SYN scan", message="probe of 1000 ports")
    ev(world, signature="SSH brute force", message="many failed logins for root")
    ev(world, signature="Malware beacon", message="callback to known C2")

    def shown(q):
        return set(signatures(admin_client.get(LIST, {"q": q})))

    assert shown("nmap") == {"ET SCAN Nmap SYN scan"}
    assert shown("NMA") == {"ET SCAN Nmap SYN scan"}  # a prefix, any case
    assert shown("failed root") == {"SSH brute force"}  # every word, in message
    assert shown("scan beacon") == set()
    assert shown("c2") == {"Malware beacon"}
    assert shown("'\"&|!:*()") == {  # operators are words or nothing, never an error
        "ET SCAN Nmap SYN scan",
        "SSH brute force",
        "Malware beacon",
    }


def index_names(index: str) -> set[str]:
    """The index and, the events table being partitioned (security.retention),
    its partitions' copies: a plan names those."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relid::regclass::text FROM pg_partition_tree(%s::regclass)", [index])
        return {name for (name,) in cursor.fetchall()}


def test_text_search_can_use_the_gin_index(world):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL) for its plan")
    from security.filtersets import text_search

    ev(world)
    # Unordered: with a handful of rows the planner would rather read the time
    # index in order and filter; what is checked is that the GIN index serves.
    queryset = text_search(SecurityEvent.objects.order_by(), "nmap")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = queryset.explain()
        cursor.execute("RESET enable_seqscan")
    assert any(name in plan for name in index_names("secevent_search_idx")), plan


def test_cidr_filter_can_use_the_source_index(world):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL) for its plan")
    from security.filtersets import address_condition

    queryset = SecurityEvent.objects.filter(address_condition("src_ip", "198.51.100.0/24"))
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = queryset.explain()
        cursor.execute("RESET enable_seqscan")
    assert any(name in plan for name in index_names("secevent_src_time_idx")), plan


# --- Keyset pagination ------------------------------------------------------------


def walk(client, query="", direction="older"):
    """Every event's uuid, page by page, following the Older (or Newer) links."""
    seen, url = [], LIST + "?" + query
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen.extend(str(e.uuid) for e in response.context["page"]["events"])
        url = response.context[f"{direction}_url"]
        url = LIST + url if url else None
    return seen


def test_keyset_pages_cover_every_row_once_in_order(world, admin_client):
    now = timezone.now()
    events = make_events([world["gw_n"], world["gw_s"]], EVENTS_PAGE_SIZE * 2 + 7, start=now)
    # Ties on occurred_at are broken by id.
    SecurityEvent.objects.filter(pk__in=[e.pk for e in events[:5]]).update(occurred_at=now)
    expected = list(
        SecurityEvent.objects.order_by("-occurred_at", "-id").values_list("uuid", flat=True)
    )
    assert walk(admin_client) == [str(u) for u in expected]
    assert walk(admin_client, "sort=oldest", "newer") == [str(u) for u in reversed(expected)]


def test_newer_link_goes_back_to_the_same_page(world, admin_client):
    make_events([world["gw_n"]], EVENTS_PAGE_SIZE * 2 + 3)
    first = admin_client.get(LIST)
    second = admin_client.get(LIST + first.context["older_url"])
    back = admin_client.get(LIST + second.context["newer_url"])
    assert signatures(back) == signatures(first)
    assert [e.pk for e in back.context["page"]["events"]] == [
        e.pk for e in first.context["page"]["events"]
    ]
    assert back.context["newer_url"] is None  # nothing newer: it is the first page again


def test_pagination_is_stable_under_concurrent_inserts(world, admin_client):
    """Rows arriving between two page loads (newer ones, and late ones with an
    older occurred_at) shift nothing: no row of the walk is skipped or repeated."""
    now = timezone.now()
    make_events([world["gw_n"]], EVENTS_PAGE_SIZE * 3, start=now)
    before = set(SecurityEvent.objects.values_list("uuid", flat=True))
    seen, url = [], LIST
    while url:
        response = admin_client.get(url)
        page = response.context["page"]["events"]
        seen.extend(e.uuid for e in page)
        # New events arrive meanwhile: now, and back-dated to before this page.
        SecurityEventFactory(gateway=world["gw_n"], occurred_at=timezone.now())
        if page:
            SecurityEventFactory(gateway=world["gw_n"], occurred_at=page[-1].occurred_at)
        url = response.context["older_url"]
        url = LIST + url if url else None
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def test_a_damaged_cursor_is_a_400_and_the_first_page(world, admin_client):
    ev(world, signature="only")
    response = admin_client.get(LIST + "?older=garbage!!")
    assert response.status_code == 400
    assert signatures(response) == ["only"]


def test_cursor_round_trip(world):
    event = ev(world)
    assert decode_cursor(encode_cursor(event)) == (event.occurred_at, event.pk)


# --- Counts ------------------------------------------------------------------------


def test_count_is_exact_under_the_cap_and_capped_above(world, admin_client, monkeypatch):
    make_events([world["gw_n"]], 12)
    response = admin_client.get(LIST)
    assert response.context["count"] == 12 and not response.context["count_more"]
    assert b"12 events" in response.content
    monkeypatch.setattr("security.views.EVENTS_COUNT_CAP", 10)
    response = admin_client.get(LIST)
    assert response.context["count"] == 10 and response.context["count_more"]
    assert b"10+ events" in response.content


def test_no_count_star_of_the_table_and_no_offset(world, admin_client):
    from django.test.utils import CaptureQueriesContext

    make_events([world["gw_n"]], 120)
    first = admin_client.get(LIST)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(LIST + first.context["older_url"] + "&severity=high")
    event_sql = [q["sql"] for q in queries if "security_securityevent" in q["sql"]]
    assert event_sql
    for sql in event_sql:
        assert "OFFSET" not in sql.upper()
        if "COUNT(" in sql.upper():
            assert "LIMIT 1001" in sql.upper()  # a capped count over a subquery


# --- Scope -------------------------------------------------------------------------


def test_an_operator_sees_only_events_of_their_regions(world, client):
    ev(world, signature="north-event")
    south_event = ev(world, signature="south-event", gateway=world["gw_s"])
    operator = user_with_role("north-op", "Operator", regions=[world["north"]])
    login_with_second_factor(client, operator)
    assert signatures(client.get(LIST)) == ["north-event"]
    assert signatures(client.get(LIST, {"q": "south"})) == []
    assert signatures(client.get(LIST, {"region": "south"})) == []
    assert client.get(reverse("security:event_detail", args=[south_event.uuid])).status_code == 404
    body = b"".join(client.get(EXPORT, {"format": "jsonl"}).streaming_content)
    assert [json.loads(line)["signature"] for line in body.splitlines()] == ["north-event"]
    response = client.post(reverse("security:event_acknowledge", args=[south_event.uuid]))
    assert response.status_code == 404
    south_event.refresh_from_db()
    assert south_event.acknowledged_at is None


def test_without_the_permission_the_list_is_refused(world, client):
    client.force_login(user_with_perms("nobody"))
    assert client.get(LIST).status_code == 403
    assert client.get(EXPORT).status_code == 403


# --- Rows (security.views.event_rows) -------------------------------------------


def test_rows_show_each_field_escaped_with_links_to_the_event(world, admin_client):
    hostile = ev(
        world,
        signature='<script>alert("sig")</script>',
        message="<b>bold</b> " + "x" * 200,
        src_ip="203.0.113.9",
        src_port=None,
        dst_ip=None,
        severity="critical",
        category="malware",
    )
    hostile.gateway.name = "gw-<i>"
    hostile.gateway.save()
    ev(world, signature="", message="", severity="critical")
    acked = ev(world, signature="looked at", acknowledged_at=timezone.now())
    html = admin_client.get(LIST).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&quot;sig&quot;)" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "x" * 106 + "…" in html and "x" * 120 not in html  # truncated to 120
    assert "gw-&lt;i&gt;" in html
    assert html.count(f'href="{hostile.get_absolute_url()}"') == 2  # time and signature
    assert "<code>203.0.113.9</code>" in html  # no port: the address alone
    assert "(no signature)" in html
    assert 'class="badge badge-ok" title="Acknowledged"' in html
    assert html.count(f'href="{acked.get_absolute_url()}"') == 2
    assert html.count('data-label="Severity"') == 3


def test_multiple_choice_filters_add_no_distinct(world, admin_client):
    """DISTINCT made PostgreSQL read every matching row before LIMIT: the
    severity + time page grew with the table."""
    ev(world, severity="high", category="malware")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(
            LIST + "?severity=high&severity=critical&category=malware&region=north"
        )
    assert signatures(response)
    events = [q["sql"] for q in queries.captured_queries if "security_securityevent" in q["sql"]]
    assert events and not any("DISTINCT" in sql for sql in events)


def test_cached_filter_bar_follows_the_users_regions_and_the_query(world, client):
    """The bar comes from the cache (security.views.event_filters_html): keyed
    by the regions a user may pick, so a scoped operator never gets a bar
    listing another region, and a renamed region shows at once."""
    everyone = user_with_role("bar-admin", "Admin")
    north_only = user_with_role("bar-north", "Operator", regions=[world["north"]])
    login_with_second_factor(client, everyone)
    page = client.get(LIST + "?severity=high").content.decode()
    assert 'value="north"' in page and 'value="south"' in page
    assert re.search(r'value="high"[^>]*selected', page)
    assert not re.search(r'value="low"[^>]*selected', page)
    client.logout()
    login_with_second_factor(client, north_only)
    page = client.get(LIST + "?severity=high").content.decode()
    assert 'value="north"' in page and 'value="south"' not in page
    world["north"].name = "Northern lights"
    world["north"].save()
    assert "Northern lights" in client.get(LIST + "?severity=high").content.decode()
    # Another query, another bar: the value typed shows.
    assert 'value="probe-word"' in client.get(LIST + "?q=probe-word").content.decode()


# --- Query counts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["", "severity=high&range=7d", "q=bulk&src=198.51.100.0/24", "sort=oldest"]
)
def test_list_query_count_does_not_grow_with_data(world, admin_client, count_queries, query):
    gateways = [world["gw_n"], world["gw_s"]]
    make_events(gateways, 5)
    small = count_queries(admin_client, LIST + "?" + query)
    make_events(gateways + [GatewayFactory(region=world["south"]) for _ in range(3)], 300)
    SavedEventSearch.objects.create(
        user=admin_client.get(LIST).wsgi_request.user, name="x", query="severity=high"
    )
    large = count_queries(admin_client, LIST + "?" + query)
    assert small == large


def test_detail_query_count_does_not_grow_with_data(world, admin_client, count_queries):
    event = ev(world, src_ip="198.51.100.1")
    url = reverse("security:event_detail", args=[event.uuid])
    small = count_queries(admin_client, url)
    make_events([world["gw_n"], world["gw_s"]], 300)
    large = count_queries(admin_client, url)
    assert small == large
