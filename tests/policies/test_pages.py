"""The policy pages: list and search, detail, rule editing and ordering,
publish (validation, warnings, re-authentication), revisions, diff,
rollback, simulation, what changes, import and export."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gateways.models import FleetConfig, Gateway
from policies.models import Policy, PolicyRevision, Rule
from policies.snapshot import export_draft
from tests.factories import GatewayFactory, RegionFactory
from tests.helpers import login_with_second_factor
from tests.policies.factories import PolicyCategoryFactory, PolicyFactory, RuleFactory, ref

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(publisher):
    return login_with_second_factor(Client(), publisher)


@pytest.fixture
def web_policy(db):
    category = PolicyCategoryFactory(name="Baseline")
    policy = PolicyFactory(name="web", priority=10, category=category, tags=["dmz"])
    RuleFactory(policy=policy, dst_cidrs=["10.20.0.0/16"], ports="443", comment="shop front")
    RuleFactory(policy=policy, action="deny", protocol="any", ports="", dst_cidrs=["10.0.0.0/8"])
    return policy


def rule_post(**fields) -> dict:
    data = {"action": "allow", "protocol": "tcp", "ports": "", "src_cidrs": "", "dst_cidrs": ""}
    data.update(fields)
    return data


class TestList:
    def test_lists_and_filters(self, signed_in, web_policy):
        other = PolicyFactory(name="mail", enabled=False)
        RuleFactory(policy=other, action="allow", dst_hosts=["mx.example.com"], dst_cidrs=[])
        page = signed_in.get(reverse("policies:policy_list"))
        body = page.content.decode()
        assert page.status_code == 200
        assert "Default: deny" in body
        assert "Nothing is published yet" in body
        url = reverse("policies:policy_list")
        assert "mail" not in signed_in.get(url, {"enabled": "true"}).content.decode()
        assert "web" in signed_in.get(url, {"category": "Baseline"}).content.decode()
        assert "mail" not in signed_in.get(url, {"tag": "dmz"}).content.decode()
        only_deny = signed_in.get(url, {"action": "deny"}).content.decode()
        assert "web" in only_deny and "mail" not in only_deny

    def test_search_finds_names_comments_hosts_and_ips_in_cidrs(self, signed_in, web_policy):
        other = PolicyFactory(name="mail")
        RuleFactory(policy=other, dst_hosts=["mx.example.com"], dst_cidrs=[])
        url = reverse("policies:policy_list")

        def found(q):
            response = signed_in.get(url, {"q": q}, HTTP_HX_REQUEST="true")
            text = response.content.decode()
            return {name for name in ("web", "mail") if f">{name}<" in text}, text

        assert found("shop front")[0] == {"web"}
        assert found("mx.example")[0] == {"mail"}
        names, text = found("10.20.30.40")  # inside 10.20.0.0/16 (rule 1) and 10.0.0.0/8 (rule 2)
        assert names == {"web"}
        assert "matches rules 1, 2" in text
        names, text = found("10.99.0.1")
        assert names == {"web"} and "matches rule 2" in text
        assert found("192.168.1.1")[0] == set()


class TestRules:
    def test_malformed_values_are_refused_on_their_field(self, signed_in, web_policy):
        url = reverse("policies:rule_add", kwargs={"uuid": web_policy.uuid})
        response = signed_in.post(
            url,
            rule_post(dst_cidrs="10.0.0.1/8\n300.1.1.1", ports="90-80", dst_hosts="exa_mple.com"),
        )
        assert response.status_code == 422
        errors = response.context["form"].errors
        assert "has host bits set: the network is 10.0.0.0/8" in errors["dst_cidrs"][0]
        assert "“300.1.1.1” is not an IP network" in errors["dst_cidrs"][1]
        assert errors["ports"] == ["The range 90-80 runs backwards: write 80-90."]
        assert "is not a host name" in errors["dst_hosts"][0]
        icmp = signed_in.post(url, rule_post(protocol="icmp", ports="22"))
        assert "ICMP has no ports" in icmp.context["form"].errors["ports"][0]
        half_schedule = signed_in.post(url, rule_post(schedule_start="08:00"))
        assert half_schedule.context["form"].errors["schedule_days"]
        assert Rule.objects.filter(policy=web_policy).count() == 2

    def test_add_edit_move_and_delete(self, signed_in, web_policy):
        region = RegionFactory(name="Europe")
        url = reverse("policies:rule_add", kwargs={"uuid": web_policy.uuid})
        response = signed_in.post(
            url,
            rule_post(
                number="1",
                src_regions=[str(region.uuid)],
                src_cidrs="192.168.0.0/24, 2001:db8::/32",
                ports="443 80",
                dst_services=["ssh"],
                comment="first",
            ),
        )
        assert response.status_code == 302, response.context["form"].errors
        rules = list(web_policy.rules.order_by("position"))
        assert [r.comment for r in rules] == ["first", "shop front", ""]
        first = rules[0]
        assert first.src_regions == [ref(region)]
        assert first.src_cidrs == ["192.168.0.0/24", "2001:db8::/32"]
        assert first.ports == "80, 443"  # canonical
        move = reverse("policies:rule_move", kwargs={"uuid": web_policy.uuid, "rule": first.uuid})
        signed_in.post(move, {"direction": "down"})
        assert [r.comment for r in web_policy.rules.order_by("position")] == [
            "shop front",
            "first",
            "",
        ]
        edit = reverse("policies:rule_edit", kwargs={"uuid": web_policy.uuid, "rule": first.uuid})
        page = signed_in.get(edit)
        assert page.status_code == 200 and "192.168.0.0/24" in page.content.decode()
        signed_in.post(
            edit, rule_post(number="3", comment="last now", src_regions=[str(region.uuid)])
        )
        assert [r.comment for r in web_policy.rules.order_by("position")] == [
            "shop front",
            "",
            "last now",
        ]
        delete = reverse(
            "policies:rule_delete", kwargs={"uuid": web_policy.uuid, "rule": first.uuid}
        )
        signed_in.post(delete)
        assert [r.position for r in web_policy.rules.order_by("position")] == [1, 2]

    def test_viewer_cannot_edit(self, policy_viewer, web_policy):
        client = login_with_second_factor(Client(), policy_viewer)
        rule = web_policy.rules.first()
        assert client.get(web_policy.get_absolute_url()).status_code == 200
        for name, kwargs in (
            ("policies:rule_add", {"uuid": web_policy.uuid}),
            ("policies:rule_edit", {"uuid": web_policy.uuid, "rule": rule.uuid}),
            ("policies:rule_delete", {"uuid": web_policy.uuid, "rule": rule.uuid}),
            ("policies:rule_move", {"uuid": web_policy.uuid, "rule": rule.uuid}),
            ("policies:policy_edit", {"uuid": web_policy.uuid}),
            ("policies:publish", {}),
            ("policies:import", {}),
        ):
            assert client.post(reverse(name, kwargs=kwargs), rule_post()).status_code == 403, name
        detail = client.get(web_policy.get_absolute_url()).content.decode()
        assert reverse("policies:rule_add", kwargs={"uuid": web_policy.uuid}) not in detail

    def test_detail_points_validation_messages_at_the_rule(self, signed_in, web_policy):
        gone = GatewayFactory(name="gw-gone")
        rule = RuleFactory(policy=web_policy, src_gateways=[ref(gone)])
        gone.delete()
        body = signed_in.get(web_policy.get_absolute_url()).content.decode()
        assert f'id="rule-{rule.uuid}"' in body
        assert "References the gateway “gw-gone”, which no longer exists" in body
        assert "Anything no enabled rule of any policy matches (default deny)" in body


class TestPublish:
    def test_errors_block_warnings_need_confirmation(self, signed_in, web_policy):
        url = reverse("policies:publish")
        empty = PolicyFactory(name="empty")
        response = signed_in.post(url, {"message": "first"})
        assert response.status_code == 409
        assert "empty has no rules" in response.content.decode()
        assert not PolicyRevision.objects.exists()
        empty.delete()
        # A copy of rule 1 below rule 2 (deny 10/8) is shadowed: a warning.
        RuleFactory(policy=web_policy, dst_cidrs=["10.20.1.0/24"], ports="443")
        response = signed_in.post(url, {"message": "first"})
        assert response.status_code == 409
        assert "Never matches: web · rule 1 (allow) comes first" in response.content.decode(), [
            i.message for i in response.context["report"].issues
        ]
        assert response.context["form"].errors["confirm_warnings"]
        response = signed_in.post(url, {"message": "first", "confirm_warnings": "on"})
        revision = PolicyRevision.objects.get()
        assert response.status_code == 302 and response["Location"] == revision.get_absolute_url()
        assert revision.number == 1 and revision.warnings_confirmed == 1
        assert revision.snapshot == export_draft()
        assert revision.config_version == FleetConfig.objects.get(pk=1).version
        # Unchanged: nothing to publish.
        again = signed_in.post(url, {"message": "again", "confirm_warnings": "on"})
        assert again.status_code == 409 and PolicyRevision.objects.count() == 1

    def test_publishing_needs_the_permission_and_a_recent_password(
        self, policy_editor, publisher, web_policy
    ):
        editor = login_with_second_factor(Client(), policy_editor)
        assert editor.get(reverse("policies:publish")).status_code == 403
        stale = Client()
        stale.force_login(publisher)  # no recent authentication recorded
        assert stale.get(reverse("policies:publish")).status_code == 200  # reading is fine
        response = stale.post(reverse("policies:publish"), {"message": "x"})
        assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
        assert not PolicyRevision.objects.exists()


class TestRevisions:
    def publish(self, client, message):
        response = client.post(
            reverse("policies:publish"), {"message": message, "confirm_warnings": "on"}
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        return PolicyRevision.objects.order_by("-number").first()

    def test_diff_rollback_and_pages(self, signed_in, web_policy):
        first = self.publish(signed_in, "first")
        rule = web_policy.rules.get(position=1)
        rule.ports = "443, 8443"
        rule.save()
        RuleFactory(policy=web_policy, dst_cidrs=["172.16.0.0/12"], ports="22")
        second = self.publish(signed_in, "second")
        compare = signed_in.get(
            reverse("policies:revision_compare"), {"from": first.uuid, "to": second.uuid}
        )
        body = compare.content.decode()
        assert "Rule 1 changed" in body and "Rule 3 added" in body
        assert "TCP, ports 443, 8443" in body and "diff-changed" in body
        diff = compare.context["diff"]["policies"][0]
        assert [r["changed"] for r in diff["rules"] if r["status"] == "changed"] == [["protocol"]]
        for url in (
            reverse("policies:revision_list"),
            second.get_absolute_url(),
            reverse("policies:revision_rollback", kwargs={"uuid": first.uuid}),
        ):
            assert signed_in.get(url).status_code == 200, url
        # Rollback publishes revision 1 as revision 3, and makes it the draft.
        response = signed_in.post(
            reverse("policies:revision_rollback", kwargs={"uuid": first.uuid}), {"message": ""}
        )
        third = PolicyRevision.objects.get(number=3)
        assert response["Location"] == third.get_absolute_url()
        assert third.snapshot == first.snapshot and third.rolled_back_from == first
        assert third.message == "Rollback to revision 1"
        assert export_draft() == first.snapshot
        assert third.config_version > second.config_version

    def test_rollout_flags_gateways_behind_for_three_intervals(
        self, signed_in, web_policy, settings
    ):
        settings.GATEWAY_HEARTBEAT_INTERVAL = 10
        revision = self.publish(signed_in, "first")
        region = RegionFactory()
        GatewayFactory(
            name="gw-current",
            region=region,
            config_version=revision.config_version,
            status="online",
        )
        GatewayFactory(
            name="gw-late",
            region=region,
            config_version=revision.config_version - 1,
            status="online",
        )
        GatewayFactory(name="gw-new", region=region)  # never reported
        # Added long ago: behind since the revision, not since they were added.
        Gateway.objects.update(created=timezone.now() - timedelta(hours=1))
        PolicyRevision.objects.filter(pk=revision.pk).update(
            created=timezone.now() - timedelta(seconds=20)
        )
        body = signed_in.get(web_policy.get_absolute_url()).content.decode()
        assert "gw-late" in body and "Flagged" not in body
        PolicyRevision.objects.filter(pk=revision.pk).update(
            created=timezone.now() - timedelta(seconds=31)
        )
        body = signed_in.get(web_policy.get_absolute_url()).content.decode()
        assert 'id="rollout-flag"' in body and "Flagged" in body
        assert "1 of 3 gateways applied it" in body or "1 of 2 gateways applied it" in body
        assert "1 gateway has never reported" in body


class TestSimulation:
    def test_published_and_draft_side_by_side(self, signed_in, web_policy):
        signed_in.post(reverse("policies:publish"), {"message": "first", "confirm_warnings": "on"})
        Rule.objects.filter(policy=web_policy, position=1).update(ports="8443")
        url = reverse("policies:simulate")
        response = signed_in.get(
            url, {"destination": "10.20.1.1", "protocol": "tcp", "port": "443"}
        )
        result = response.context["result"]
        assert result.published.action == "allow" and result.published.rule.label == "web · rule 1"
        assert result.draft.action == "deny" and result.draft.rule.label == "web · rule 2"
        body = response.content.decode()
        assert "The draft answers differently" in body
        assert "port 443 is not in 8443" in body
        nothing = signed_in.get(
            url, {"destination": "api.example.com", "protocol": "udp", "port": "53"}
        )
        assert nothing.context["result"].draft.rule is None
        assert "by the default deny: no rule matched" in nothing.content.decode()
        bad = signed_in.get(url, {"destination": "not a host", "protocol": "tcp"})
        assert bad.status_code == 400
        assert set(bad.context["form"].errors) == {"destination", "port"}

    def test_what_changes_replays_recent_events(self, signed_in, web_policy):
        from security.models import SecurityEvent

        signed_in.post(reverse("policies:publish"), {"message": "first", "confirm_warnings": "on"})
        Rule.objects.filter(policy=web_policy, position=1).update(action="deny")
        gateway = GatewayFactory()
        base = {"gateway": gateway, "severity": "low", "category": "policy_violation"}
        SecurityEvent.objects.create(
            uuid="00000000-0000-4000-8000-000000000001",
            occurred_at=timezone.now(),
            src_ip="203.0.113.9",
            dst_ip="10.20.0.5",
            dst_port=443,
            protocol="tcp",
            **base,
        )
        SecurityEvent.objects.create(
            uuid="00000000-0000-4000-8000-000000000002",
            occurred_at=timezone.now(),
            src_ip="203.0.113.9",
            dst_ip="192.0.2.1",
            dst_port=443,
            protocol="tcp",
            **base,
        )
        response = signed_in.get(reverse("policies:impact"))
        assert [e.dst_ip for e, _c in response.context["newly_denied"]] == ["10.20.0.5"]
        assert response.context["newly_allowed"] == []


class TestImportExport:
    def test_round_trip_is_exact(self, signed_in, web_policy):
        region = RegionFactory(name="Europe")
        RuleFactory(
            policy=web_policy,
            src_regions=[ref(region)],
            schedule_days=[0, 4],
            schedule_start=timezone.datetime(2020, 1, 1, 8, 0).time(),
            schedule_end=timezone.datetime(2020, 1, 1, 18, 30).time(),
            schedule_timezone="Europe/Berlin",
            expires=timezone.now() + timedelta(days=30),
        )
        exported = signed_in.get(reverse("policies:export"))
        assert exported["Content-Disposition"] == 'attachment; filename="policies-draft.json"'
        text = exported.content.decode()
        Policy.objects.all().delete()
        upload = SimpleUploadedFile("p.json", text.encode(), content_type="application/json")
        response = signed_in.post(reverse("policies:import"), {"file": upload})
        assert response.status_code == 302
        assert signed_in.get(reverse("policies:export")).content.decode() == text

    def test_a_bad_file_changes_nothing(self, signed_in, web_policy):
        data = export_draft()
        data["policies"][0]["rules"][0]["ports"] = "99999"
        data["policies"][0]["rules"][1]["action"] = "maybe"
        upload = SimpleUploadedFile("p.json", json.dumps(data).encode())
        response = signed_in.post(reverse("policies:import"), {"file": upload})
        assert response.status_code == 422
        errors = response.context["errors"]
        assert any("policies[0].rules[0]: Port 99999 is out of range" in e for e in errors)
        assert any("policies[0].rules[1].action: expected allow or deny" in e for e in errors)
        assert Rule.objects.filter(policy=web_policy).count() == 2
