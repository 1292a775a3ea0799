"""Containment (security.containment, docs/containment.md): blocks and
quarantines are rules of the Containment policy, each action, each lift and
each expiry run published as exactly one policy revision built from the last
published set (other drafts stay drafts), reaching the gateways in scope
through the agent's config pull."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditRecord
from gateways.agent.ingest import current_config_version
from policies.models import CONTAINMENT_POLICY_ID, Policy, PolicyRevision, Rule
from policies.publishing import draft_status, publish, rollback
from policies.snapshot import export_draft, import_snapshot
from security import containment
from security.choices import ActivityKind
from security.models import ContainmentAction, Incident, IncidentActivity
from security.tasks import lift_expired_containment
from tests.factories import RegionFactory, user_with_role
from tests.gateways.test_agent_api import enrolled_agent
from tests.helpers import login_with_second_factor
from tests.policies.factories import PolicyFactory, RuleFactory

pytestmark = pytest.mark.django_db

BLOCK = reverse("security:containment_block")
QUARANTINE = reverse("security:containment_quarantine")


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9
    settings.CONTAINMENT_MANAGEMENT_DESTINATIONS = ["console.example.com", "192.0.2.10"]


@pytest.fixture
def fleet(db):
    europe, asia = RegionFactory(name="Europe"), RegionFactory(name="Asia")
    return {
        "europe": europe,
        "asia": asia,
        "eu_agent": enrolled_agent(region=europe, name="gw-eu-1"),
        "asia_agent": enrolled_agent(region=asia, name="gw-asia-1"),
    }


@pytest.fixture
def admin(db):
    return user_with_role("cont-admin", "Admin")


@pytest.fixture
def admin_client(admin):
    return login_with_second_factor(Client(), admin)


def make_incident(gateways, src_ip="203.0.113.9") -> Incident:
    now = timezone.now()
    incident = Incident.objects.create(
        title=f"Distributed scan from {src_ip}",
        severity="high",
        key=f"scan:{src_ip}",
        src_ip=src_ip,
        first_seen=now - timedelta(minutes=5),
        last_seen=now,
        event_count=12,
    )
    incident.gateways.set(gateways)
    return incident


def block_post(**fields) -> dict:
    data = {"cidr": "203.0.113.9", "region": "fleet", "expires": "24h", "reason": ""}
    data.update(fields)
    return data


def containment_entries(agent) -> list[dict]:
    return [p for p in agent.get("config").json()["policies"] if p["policy"] == "Containment"]


def denied_sources(agent) -> list[str]:
    return [cidr for entry in containment_entries(agent) for cidr in entry["sources"]["cidrs"]]


# --- Blocking ---------------------------------------------------------------------


def test_incident_block_with_expiry_reaches_the_regions_gateways_then_lift_removes_it(
    fleet, admin_client
):
    incident = make_incident([fleet["eu_agent"].gateway])
    page = admin_client.get(f"{BLOCK}?incident={incident.uuid}")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="203.0.113.9"' in body  # pre-filled from the incident
    assert PolicyRevision.objects.count() == 0  # showing the form does nothing
    version = current_config_version()

    response = admin_client.post(
        BLOCK,
        block_post(region=str(fleet["europe"].uuid), incident=str(incident.uuid), expires="1h"),
    )
    assert response.status_code == 302, response.content[:2000]
    assert response["Location"] == incident.get_absolute_url()
    assert PolicyRevision.objects.count() == 1  # exactly one revision per action
    action = ContainmentAction.objects.get()
    assert action.revision == PolicyRevision.current()
    assert action.region == fleet["europe"] and action.cidr == "203.0.113.9/32"
    assert timedelta(minutes=59) < action.expires_at - timezone.now() <= timedelta(hours=1)
    assert current_config_version() > version

    # The gateway in Europe gets the deny first in its config; Asia's does not.
    eu = containment_entries(fleet["eu_agent"])
    assert len(eu) == 1 and eu[0]["action"] == "deny"
    assert eu[0]["sources"]["cidrs"] == ["203.0.113.9/32"]
    assert eu[0]["expires"] == action.expires_at.astimezone(UTC).isoformat()
    assert fleet["eu_agent"].get("config").json()["policies"][0] == eu[0]
    assert containment_entries(fleet["asia_agent"]) == []

    # The incident's timeline shows it; so does the audit log.
    entry = IncidentActivity.objects.get(incident=incident, kind=ActivityKind.CONTAINMENT)
    assert "203.0.113.9/32" in entry.text and entry.actor.username == "cont-admin"
    assert entry.data["revision"] == action.revision.number
    assert AuditRecord.objects.filter(action="containment.block").count() == 1

    # Lift: confirmation first, then one more revision and the rule is gone.
    lift_url = reverse("security:containmentaction_lift", kwargs={"uuid": action.uuid})
    assert admin_client.get(lift_url).status_code == 200
    assert PolicyRevision.objects.count() == 1
    version = current_config_version()
    assert admin_client.post(lift_url).status_code == 302
    assert PolicyRevision.objects.count() == 2
    assert current_config_version() > version
    action.refresh_from_db()
    assert action.lifted_at is not None and action.lift_revision.number == 2
    assert action.lifted_by.username == "cont-admin" and not action.lift_expired
    assert containment_entries(fleet["eu_agent"]) == []
    assert IncidentActivity.objects.filter(
        incident=incident, kind=ActivityKind.CONTAINMENT_LIFTED
    ).exists()
    # Lifting again changes nothing.
    assert admin_client.post(lift_url).status_code == 409
    assert PolicyRevision.objects.count() == 2


def test_fleet_wide_block_reaches_every_gateway(fleet, admin_client):
    response = admin_client.post(BLOCK, block_post(cidr="198.51.100.0/24", expires="never"))
    assert response.status_code == 302
    assert denied_sources(fleet["eu_agent"]) == ["198.51.100.0/24"]
    assert denied_sources(fleet["asia_agent"]) == ["198.51.100.0/24"]
    assert ContainmentAction.objects.get().expires_at is None


def test_the_same_block_twice_is_stored_once(fleet, admin_client):
    assert admin_client.post(BLOCK, block_post()).status_code == 302
    again = admin_client.post(BLOCK, block_post())
    assert again.status_code == 409
    assert "already blocked" in again.content.decode()
    assert ContainmentAction.objects.count() == 1 and PolicyRevision.objects.count() == 1


def test_other_admins_drafts_stay_drafts(fleet, admin, admin_client):
    web = PolicyFactory(name="web", priority=10)
    RuleFactory(policy=web, dst_cidrs=["10.20.0.0/16"], ports="443")
    first = publish(admin, "baseline")
    # Someone else's unpublished work: a new rule and a new policy.
    pending = RuleFactory(policy=web, dst_cidrs=["10.30.0.0/16"], ports="22", comment="pending")
    PolicyFactory(name="draft-only", priority=20, enabled=False)

    assert admin_client.post(BLOCK, block_post()).status_code == 302
    revision = PolicyRevision.current()
    assert revision.number == first.number + 1
    published = {p["name"]: p for p in revision.snapshot["policies"]}
    assert list(published) == ["Containment", "web"]  # Containment first, no draft-only
    assert published["web"] == next(p for p in first.snapshot["policies"] if p["name"] == "web")
    assert str(pending.uuid) not in str(revision.snapshot)
    # The draft keeps its changes, and differs from what is published only by them.
    status = draft_status()
    assert status["changed"]
    assert Rule.objects.filter(pk=pending.pk).exists()
    assert Policy.objects.filter(name="draft-only").exists()
    draft_containment = next(p for p in status["draft"]["policies"] if p["name"] == "Containment")
    assert draft_containment == published["Containment"]
    # A later normal publication carries both.
    later = publish(admin, "the pending work")
    names = [p["name"] for p in later.snapshot["policies"]]
    assert names == ["Containment", "web", "draft-only"]


def test_containment_runs_before_every_other_policy_whatever_their_priority(fleet, admin):
    early = PolicyFactory(name="aaa", priority=0)
    RuleFactory(policy=early, ports="", protocol="any", src_cidrs=["203.0.113.0/24"])
    publish(admin, "aaa first?")
    containment.block_source(admin, containment.BlockRequest(cidr="203.0.113.9"))
    entries = fleet["eu_agent"].get("config").json()["policies"]
    assert [e["policy"] for e in entries][:2] == ["Containment", "aaa"]


def test_rollback_and_import_keep_the_containment_in_force(fleet, admin):
    web = PolicyFactory(name="web", priority=10)
    RuleFactory(policy=web, dst_cidrs=["10.20.0.0/16"], ports="443")
    old = publish(admin, "baseline")
    action = containment.block_source(admin, containment.BlockRequest(cidr="203.0.113.9"))
    new = rollback(admin, old)
    assert new.number == old.number + 2
    assert [p["name"] for p in new.snapshot["policies"]] == ["Containment", "web"]
    assert denied_sources(fleet["eu_agent"]) == ["203.0.113.9/32"]
    # Importing a file (here: the old revision) keeps the Containment policy too.
    import_snapshot(old.snapshot)
    assert Rule.objects.filter(uuid__in=action.rule_ids).exists()
    assert [p["name"] for p in export_draft()["policies"]] == ["Containment", "web"]


def test_the_containment_policy_cannot_be_edited_or_deleted_by_hand(fleet, admin, admin_client):
    action = containment.block_source(admin, containment.BlockRequest(cidr="203.0.113.9"))
    policy = Policy.objects.get(uuid=CONTAINMENT_POLICY_ID)
    rule = Rule.objects.get(uuid=action.rule_ids[0])
    for url in (
        reverse("policies:policy_edit", kwargs={"uuid": policy.uuid}),
        reverse("policies:policy_delete", kwargs={"uuid": policy.uuid}),
        reverse("policies:rule_add", kwargs={"uuid": policy.uuid}),
        reverse("policies:rule_delete", kwargs={"uuid": policy.uuid, "rule": rule.uuid}),
    ):
        assert admin_client.get(url).status_code == 403, url
        assert admin_client.post(url, {}).status_code == 403, url
    page = admin_client.get(policy.get_absolute_url()).content.decode()
    assert 'id="containment-note"' in page
    assert reverse("policies:policy_edit", kwargs={"uuid": policy.uuid}) not in page
    assert Policy.objects.filter(uuid=CONTAINMENT_POLICY_ID).exists()
    assert Rule.objects.filter(pk=rule.pk).exists()
    assert PolicyRevision.objects.count() == 1


# --- Expiry -------------------------------------------------------------------------


def test_expiry_task_lifts_every_expired_action_in_one_revision(fleet, admin):
    incident = make_incident([fleet["eu_agent"].gateway])
    now = timezone.now()
    for cidr in ("203.0.113.9", "203.0.113.10"):
        containment.block_source(
            admin,
            containment.BlockRequest(
                cidr=cidr, expires_at=now + timedelta(hours=1), incident=incident
            ),
        )
    keeper = containment.block_source(
        admin, containment.BlockRequest(cidr="198.51.100.7", expires_at=now + timedelta(days=2))
    )
    containment.quarantine_gateway(
        admin, fleet["asia_agent"].gateway, expires_at=now + timedelta(minutes=30)
    )
    assert PolicyRevision.objects.count() == 4
    assert lift_expired_containment() is None  # nothing expired yet: no revision
    assert PolicyRevision.objects.count() == 4

    revision = containment.lift_expired(now=now + timedelta(hours=2))
    assert revision is not None and PolicyRevision.objects.count() == 5
    assert denied_sources(fleet["eu_agent"]) == ["198.51.100.7/32"]
    # The quarantine's rules went too: only the fleet-wide keeper is left there.
    assert [e["sources"]["cidrs"] for e in containment_entries(fleet["asia_agent"])] == [
        ["198.51.100.7/32"]
    ]
    fleet["asia_agent"].gateway.refresh_from_db()
    assert not fleet["asia_agent"].gateway.quarantined
    lifted = ContainmentAction.objects.exclude(pk=keeper.pk)
    assert all(a.lift_expired and a.lift_revision == revision for a in lifted)
    assert ContainmentAction.objects.get(pk=keeper.pk).lifted_at is None
    assert (
        IncidentActivity.objects.filter(
            incident=incident, kind=ActivityKind.CONTAINMENT_LIFTED
        ).count()
        == 2
    )
    assert AuditRecord.objects.filter(action="containment.expire").count() == 3
    # A second run (or a redelivered task) finds nothing: no revision.
    assert containment.lift_expired(now=now + timedelta(hours=2)) is None
    assert PolicyRevision.objects.count() == 5


# --- Quarantine -----------------------------------------------------------------


def test_quarantine_leaves_only_management_traffic_and_release_undoes_it(fleet, admin_client):
    gateway = fleet["eu_agent"].gateway
    page = admin_client.get(f"{QUARANTINE}?gateway={gateway.uuid}")
    assert page.status_code == 200 and "console.example.com" in page.content.decode()
    version = current_config_version()
    response = admin_client.post(QUARANTINE, {"gateway": str(gateway.uuid), "expires": "never"})
    assert response.status_code == 302, response.content[:2000]
    assert PolicyRevision.objects.count() == 1 and current_config_version() > version
    gateway.refresh_from_db()
    assert gateway.quarantined

    entries = fleet["eu_agent"].get("config").json()["policies"]
    allow, deny = entries[0], entries[1]
    assert allow["action"] == "allow" and allow["sources"]["gateways"] == [str(gateway.uuid)]
    assert allow["destinations"]["hosts"] == ["console.example.com"]
    assert allow["destinations"]["cidrs"] == ["192.0.2.10/32"]
    assert deny["action"] == "deny" and deny["sources"]["gateways"] == [str(gateway.uuid)]
    assert deny["destinations"] == {"cidrs": [], "hosts": [], "services": []}
    assert deny["protocol"] == "any" and deny["ports"] == []
    assert containment_entries(fleet["asia_agent"]) == []  # the others are untouched

    # A badge on the gateway's page and its list row.
    assert "Quarantined" in admin_client.get(gateway.get_absolute_url()).content.decode()
    assert "Quarantined" in admin_client.get(reverse("gateways:gateway_list")).content.decode()

    again = admin_client.post(QUARANTINE, {"gateway": str(gateway.uuid), "expires": "never"})
    assert again.status_code == 422  # no longer offered: already quarantined
    assert PolicyRevision.objects.count() == 1

    action = ContainmentAction.objects.get()
    lift_url = reverse("security:containmentaction_lift", kwargs={"uuid": action.uuid})
    assert lift_url in admin_client.get(gateway.get_absolute_url()).content.decode()  # Release
    assert admin_client.post(lift_url).status_code == 302
    gateway.refresh_from_db()
    assert not gateway.quarantined
    assert containment_entries(fleet["eu_agent"]) == []
    assert PolicyRevision.objects.count() == 2


# --- Who may, and recent authentication --------------------------------------------


def test_a_region_scoped_operator_blocks_only_in_their_regions(fleet):
    operator = user_with_role("eu-op", "Operator", regions=[fleet["europe"]])
    client = login_with_second_factor(Client(), operator)
    page = client.get(BLOCK).content.decode()
    assert 'value="fleet"' not in page and str(fleet["asia"].uuid) not in page
    refused = client.post(BLOCK, block_post(region="fleet"))
    assert refused.status_code == 422
    refused = client.post(BLOCK, block_post(region=str(fleet["asia"].uuid)))
    assert refused.status_code == 422
    assert ContainmentAction.objects.count() == 0 and PolicyRevision.objects.count() == 0
    ok = client.post(BLOCK, block_post(region=str(fleet["europe"].uuid)))
    assert ok.status_code == 302

    # The service refuses a fleet-wide block even when called directly.
    with pytest.raises(containment.ContainmentRefused) as refused_call:
        containment.block_source(operator, containment.BlockRequest(cidr="198.51.100.1"))
    assert refused_call.value.status == 403

    # Quarantine: only gateways of their regions are offered.
    asia_gw = fleet["asia_agent"].gateway
    assert (
        client.post(QUARANTINE, {"gateway": str(asia_gw.uuid), "expires": "never"}).status_code
        == 422
    )

    # A fleet-wide block (by an admin) is seen but cannot be lifted by them.
    admin = user_with_role("cont-admin-2", "Admin")
    fleet_action = containment.block_source(admin, containment.BlockRequest(cidr="198.51.100.1"))
    listing = client.get(reverse("security:containmentaction_list")).content.decode()
    assert "198.51.100.1/32" in listing
    lift_url = reverse("security:containmentaction_lift", kwargs={"uuid": fleet_action.uuid})
    assert lift_url not in listing  # no "Lift" offered for it
    own = ContainmentAction.objects.get(region=fleet["europe"])
    assert reverse("security:containmentaction_lift", kwargs={"uuid": own.uuid}) in listing
    assert client.post(lift_url).status_code == 404
    assert ContainmentAction.objects.get(pk=fleet_action.pk).lifted_at is None


@pytest.mark.parametrize("role", ["Viewer", "Auditor"])
def test_readers_see_containment_but_cannot_act(fleet, admin, role):
    containment.block_source(admin, containment.BlockRequest(cidr="203.0.113.9"))
    client = login_with_second_factor(Client(), user_with_role(f"r-{role}", role))
    listing = client.get(reverse("security:containmentaction_list"))
    assert listing.status_code == 200 and "203.0.113.9/32" in listing.content.decode()
    assert BLOCK not in listing.content.decode()
    assert client.get(BLOCK).status_code == 403
    assert client.post(BLOCK, block_post()).status_code == 403
    assert (
        client.post(QUARANTINE, {"gateway": str(fleet["eu_agent"].gateway.uuid)}).status_code == 403
    )
    assert PolicyRevision.objects.count() == 1


def test_acting_needs_a_recent_password(fleet, admin):
    from allauth.account.internal.flows import login as allauth_login

    stale = login_with_second_factor(Client(), admin)
    session = stale.session  # signed in with both factors, but a day ago
    session[allauth_login.AUTHENTICATION_METHODS_SESSION_KEY][0]["at"] -= 86400
    session.save()
    assert stale.get(BLOCK).status_code == 200  # reading the form is fine
    response = stale.post(BLOCK, block_post())
    assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
    response = stale.post(QUARANTINE, {"gateway": str(fleet["eu_agent"].gateway.uuid)})
    assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
    assert ContainmentAction.objects.count() == 0 and PolicyRevision.objects.count() == 0


# --- Bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"cidr": "not-an-ip"}, "cidr", "is not an IP network"),
        ({"cidr": "203.0.113.9/24"}, "cidr", "host bits set"),
        ({"cidr": ""}, "cidr", "required"),
        ({"cidr": "0.0.0.0/0"}, "cidr", "every address"),
        ({"cidr": "::/0"}, "cidr", "every address"),
        ({"cidr": "16.0.0.0/4"}, "confirm_wide", "whole network"),
        ({"cidr": "192.0.2.0/24"}, "cidr", "console"),
        ({"expires": "custom", "expires_at": ""}, "expires_at", "moment"),
        ({"expires": "custom", "expires_at": "2020-01-01T10:00"}, "expires_at", "future"),
        ({"expires": "forever"}, "expires", "valid choice"),
        ({"region": "nowhere"}, "region", "valid choice"),
        ({"incident": "00000000-0000-4000-8000-000000000000"}, "__all__", "incident"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_stores_nothing(
    fleet, admin_client, fields, field, words
):
    response = admin_client.post(BLOCK, block_post(**fields))
    assert response.status_code == 422
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert words in " ".join(form.errors[field])
    assert ContainmentAction.objects.count() == 0
    assert PolicyRevision.objects.count() == 0
    assert not Policy.objects.filter(uuid=CONTAINMENT_POLICY_ID).exists()


def test_a_wide_network_is_blocked_when_confirmed(fleet, admin_client):
    response = admin_client.post(BLOCK, block_post(cidr="16.0.0.0/4", confirm_wide="on"))
    assert response.status_code == 302
    assert denied_sources(fleet["eu_agent"]) == ["16.0.0.0/4"]


# --- Pages --------------------------------------------------------------------------


def test_event_page_offers_to_block_its_source(fleet, admin_client):
    from tests.security.test_events_factories import SecurityEventFactory

    event = SecurityEventFactory(gateway=fleet["eu_agent"].gateway, src_ip="203.0.113.77")
    page = admin_client.get(event.get_absolute_url()).content.decode()
    assert f"{BLOCK}?event={event.uuid}" in page
    form = admin_client.get(f"{BLOCK}?event={event.uuid}").content.decode()
    assert 'value="203.0.113.77"' in form


def test_incident_panel_lists_actions_and_prefills_buttons(fleet, admin):
    incident = make_incident([fleet["eu_agent"].gateway])
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = admin
    empty = render_to_string(
        "security/incidents/partials/containment.html", {"incident": incident, "request": request}
    )
    assert f"{BLOCK}?incident={incident.uuid}" in empty
    assert f"gateway={fleet['eu_agent'].gateway.uuid}" in empty
    assert "Nothing contained yet" in empty
    containment.block_source(admin, containment.BlockRequest(cidr="203.0.113.9", incident=incident))
    panel = render_to_string(
        "security/incidents/partials/containment.html", {"incident": incident, "request": request}
    )
    assert "203.0.113.9/32" in panel and "Nothing contained yet" not in panel


def test_incident_panel_offers_only_unquarantined_gateways_in_three_queries(
    fleet, admin, django_assert_num_queries
):
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    eu, asia = fleet["eu_agent"].gateway, fleet["asia_agent"].gateway
    incident = make_incident([eu, asia])
    containment.quarantine_gateway(admin, asia, incident=incident)
    request = RequestFactory().get("/")
    request.user = admin
    # Actions, the user's scope (once a request), candidate gateways: the
    # candidates' columns are only those shown, none is loaded later.
    with django_assert_num_queries(3):
        panel = render_to_string(
            "security/incidents/partials/containment.html",
            {"incident": incident, "request": request},
        )
    assert f"gateway={eu.uuid}" in panel and eu.name in panel
    assert f"gateway={asia.uuid}" not in panel
    assert asia.name in panel  # as the quarantine action's target


def test_empty_list_offers_the_actions(fleet, admin_client):
    page = admin_client.get(reverse("security:containmentaction_list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "No containment actions yet" in body
    assert BLOCK in body and QUARANTINE in body


def test_list_and_detail_pages_do_not_grow_with_the_data(fleet, admin, admin_client, count_queries):
    incident = make_incident([fleet["eu_agent"].gateway])

    def make(n, start):
        for i in range(n):
            containment.block_source(
                admin,
                containment.BlockRequest(cidr=f"203.0.{start}.{i + 1}", incident=incident),
            )

    make(2, 113)
    url = reverse("security:containmentaction_list")
    small = count_queries(admin_client, url)
    action = ContainmentAction.objects.first()
    detail_small = count_queries(admin_client, action.get_absolute_url())
    make(8, 114)
    assert count_queries(admin_client, url) == small
    assert count_queries(admin_client, action.get_absolute_url()) == detail_small


def test_expired_lift_shows_as_expiry_on_the_timeline_and_admin_is_read_only(fleet, admin):
    incident = make_incident([fleet["eu_agent"].gateway])
    now = timezone.now()
    action = containment.block_source(
        admin,
        containment.BlockRequest(
            cidr="203.0.113.9", expires_at=now + timedelta(hours=1), incident=incident
        ),
    )
    containment.lift_expired(now=now + timedelta(hours=2))
    client = login_with_second_factor(Client(), admin)
    page = client.get(reverse("security:incident_detail", kwargs={"uuid": incident.uuid}))
    assert page.status_code == 200
    timeline = page.content.decode()
    assert "Expiry" in timeline

    superuser = user_with_role("cont-root", "Admin")
    superuser.is_superuser = superuser.is_staff = True
    superuser.save()
    staff = login_with_second_factor(Client(), superuser)
    changelist = staff.get(reverse("admin:security_containmentaction_changelist"))
    assert changelist.status_code == 200 and "203.0.113.9" in changelist.content.decode()
    url = reverse("admin:security_containmentaction_change", args=[action.pk])
    assert staff.post(url, {"reason": "edited"}).status_code == 403
    assert staff.get(reverse("admin:security_containmentaction_add")).status_code == 403
    action.refresh_from_db()
    assert action.reason == ""
