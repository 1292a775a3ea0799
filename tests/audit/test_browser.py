"""The issue's done-when in Chromium: a change made in the console is found
in the audit log in seconds, with its before and after; the chain checks;
the period exports. Screenshots (1440 px and 375 px, light and dark) go to
$AUDIT_SHOTS when set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import _page, browser, sign_in_by_cookie  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("AUDIT_SHOTS")


@pytest.fixture
def admin(django_user_model, transactional_db):
    return django_user_model.objects.create_superuser(
        username="captain", email="captain@example.com", password="correct-horse-battery-staple"
    )


def shoot(page, name: str, full_page: bool = True) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


def test_find_a_change_see_before_and_after_verify_and_export(browser, live_server, admin):  # noqa: F811
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    context, page = _page(browser, live_server, viewport={"width": 1440, "height": 900})
    try:
        _sign_in(page, admin, live_server.url)
        page.goto("/regions/add/")
        page.get_by_label("Name").fill("Lisbon")
        page.get_by_label("Slug").fill("lisbon")
        page.get_by_role("button", name="Save").click()
        page.get_by_role("link", name="Edit").click()
        page.get_by_label("Description").fill("Edge sites in Portugal")
        page.get_by_role("button", name="Save").click()
        assert page.locator("#history").get_by_text("update").count() >= 1

        page.goto("/audit/")
        page.get_by_placeholder("Search").fill("Lisbon")
        page.locator("#object-table").get_by_text("Lisbon").first.wait_for()
        page.locator(".audit-table a", has_text="update").first.click()
        diff = page.locator(".diff-table")
        assert "Edge sites in Portugal" in diff.inner_text()
        assert page.locator(".diff-before").first.inner_text().strip() in ("—", "(empty)")
        shoot(page, "detail-1440-light")

        page.goto("/audit/")
        page.get_by_role("button", name="Verify chain").click()
        page.locator("#verify-result").get_by_text("Chain intact").wait_for()
        shoot(page, "list-1440-light")
        with page.expect_download() as download:
            page.locator(".export-menu summary").click()
            page.get_by_role("link", name="JSON Lines").click()
        text = Path(download.value.path()).read_text()
        assert '"chain_head"' in text and "Lisbon" in text
        page.goto("/audit/reports/access-review/")
        assert "captain" in page.locator(".report-table").inner_text()
        shoot(page, "access-review-1440-light")
        # The Reports page from the log, then the change report with Lisbon.
        page.goto("/audit/")
        page.get_by_role("link", name="Reports").click()
        page.get_by_role("link", name="Change report").click()
        assert "Lisbon" in page.locator(".audit-table").inner_text()
        page.locator(".audit-table a").first.click()
        page.locator(".diff-table").wait_for()
        # Schedule a report: a wrong address is refused, then it is saved.
        page.goto("/audit/reports/")
        page.get_by_role("link", name="Schedule a report").first.click()
        page.get_by_label("Name").fill("Weekly changes")
        page.get_by_label("Report").select_option("change_report")
        page.get_by_label("Recipients").fill("ciso@example.com, nope")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Not an email address: nope.").wait_for()
        page.get_by_label("Recipients").fill("ciso@example.com")
        page.get_by_role("button", name="Save").click()
        page.locator("#schedules").get_by_text("Weekly changes").wait_for()
        assert not page.errors
    finally:
        context.close()


def _sign_in(page, user, base_url):
    from django.conf import settings
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": base_url}])


# With AUDIT_SHOTS set: every width and scheme, saved there. Without: the
# phone in dark only, as a smoke test of the pages at that size (no skips in CI).
SIZES = [(w, s) for w in (1440, 375) for s in ("light", "dark")] if SHOTS else [(375, "dark")]


@pytest.mark.parametrize(("width", "scheme"), SIZES)
def test_screenshots(browser, live_server, admin, width, scheme):  # noqa: F811
    from django_otp.plugins.otp_totp.models import TOTPDevice

    import audit
    from audit.chain import seal_pending
    from tests.factories import GatewayFactory

    TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    gateway = GatewayFactory(name="gw-lisbon-01", description="first")
    gateway.description = "Rack 4, row B"
    gateway.capacity_mbps = 2500
    gateway.save()
    gateway.tags.add("edge", "pci")
    audit.record(
        "login.failed", object_type="accounts.user", object_name="mallory", outcome="failure"
    )
    # Something in every report, and a schedule that ran.
    from datetime import timedelta

    from django.utils import timezone

    from audit.choices import RunStatus
    from audit.models import AuditRecord, ReportSchedule

    now = timezone.now()
    for i, (action, name, ip) in enumerate(
        [
            ("login.failed", "mallory", "198.51.100.7"),
            ("login.failed", "admin", "198.51.100.7"),
            ("login.lockout", "admin", "198.51.100.7"),
            ("permission.denied", "viewer-ana", "203.0.113.20"),
            ("mfa.verify.failed", "viewer-ana", "203.0.113.20"),
        ]
    ):
        AuditRecord.objects.create(
            time=now - timedelta(minutes=i),
            actor_type="anonymous",
            actor_name=name,
            action=action,
            ip=ip,
            outcome="denied" if action in ("login.lockout", "permission.denied") else "failure",
            source="web",
        )
    for action, kind, obj in [
        ("policy.publish", "policies.policyrevision", "Revision 42"),
        ("mfa.reset", "accounts.user", "viewer-ana"),
        ("apikey.create", "accounts.apikey", "ci-deploy (rk_3f9a…)"),
        ("create", "security.containmentaction", "Block 203.0.113.9/32"),
    ]:
        AuditRecord.objects.create(
            time=now,
            actor_type="user",
            actor_name="captain",
            action=action,
            object_type=kind,
            object_name=obj,
            ip="192.0.2.10",
            source="web",
        )
    ReportSchedule.objects.create(
        name="Weekly privileged actions",
        report="privileged_actions",
        recipients=["ciso@example.com", "audit-team@example.com"],
        next_run=now + timedelta(days=3),
        last_run=now - timedelta(days=4),
        last_status=RunStatus.SENT,
        last_result="Sent to 2 recipients.",
    )
    ReportSchedule.objects.create(
        name="Daily failed access",
        report="failed_access",
        period="previous_day",
        frequency="daily",
        recipients=["soc@example.com"],
        next_run=now + timedelta(hours=10),
        last_run=now - timedelta(hours=14),
        last_status=RunStatus.FAILED,
        last_result="SMTPRecipientsRefused: {'soc@example.com': (550, b'No such user')}",
    )
    seal_pending()
    context, page = _page(
        browser,
        live_server,
        viewport={"width": width, "height": 900},
        color_scheme=scheme,
        is_mobile=width < 500,
    )
    try:
        _sign_in(page, admin, live_server.url)
        page.goto("/audit/")
        shoot(page, f"list-{width}-{scheme}", full_page=False)
        page.goto(f"/audit/?object_type=gateways.gateway&object_id={gateway.uuid}")
        page.locator(".audit-table a", has_text="update").first.click()
        shoot(page, f"detail-{width}-{scheme}")
        page.goto(gateway.get_absolute_url())
        page.locator("#history").scroll_into_view_if_needed()
        shoot(page, f"gateway-history-{width}-{scheme}", full_page=False)
        page.goto("/")
        shoot(page, f"dashboard-{width}-{scheme}")
        page.goto("/account/")
        shoot(page, f"account-{width}-{scheme}")
        page.goto("/audit/reports/access-review/")
        shoot(page, f"access-review-{width}-{scheme}")
        page.goto("/audit/reports/")
        shoot(page, f"reports-{width}-{scheme}")
        for slug in ("changes", "privileged", "failed-access"):
            page.goto(f"/audit/reports/{slug}/")
            shoot(page, f"report-{slug}-{width}-{scheme}")
        page.goto("/audit/reports/schedules/add/")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Enter at least one email address.").wait_for()
        shoot(page, f"schedule-form-{width}-{scheme}")
        assert not page.errors
    finally:
        context.close()
