"""Settings → Users: list, invite, accept, edit, deactivate; who may do it."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from accounts.models import Invitation, User
from tests.factories import RegionFactory, user_with_role
from tests.helpers import login_with_second_factor


@pytest.fixture
def admin_role_user(db):
    return user_with_role("alice", "Admin", first_name="Alice", last_name="Admin")


@pytest.fixture
def admin_client(client, admin_role_user):
    return login_with_second_factor(client, admin_role_user)


def invite(client, **data):
    payload = {"email": "bob@example.com", "first_name": "Bob", "last_name": "Ops"}
    payload.update(data)
    return client.post(reverse("accounts:user_add"), payload)


def link_from(response) -> str:
    match = re.search(
        r'id="invitation-link" class="secret"><code>([^<]+)</code>', response.content.decode()
    )
    assert match, "the invitation link is shown once"
    return match.group(1)


def test_list_shows_users_roles_and_state(admin_client, admin_role_user):
    user_with_role("carol", "Viewer", regions=[RegionFactory(name="Europe")])
    page = admin_client.get(reverse("accounts:user_list")).content.decode()
    assert "alice" in page and "carol" in page
    assert "Viewer" in page and "Europe" in page
    assert "Invite user" in page


def test_list_query_count_does_not_grow(admin_client, count_queries):
    for i in range(3):
        user_with_role(f"u{i}", "Viewer", regions=[RegionFactory()])
    few = count_queries(admin_client, reverse("accounts:user_list"))
    for i in range(3, 15):
        user_with_role(f"u{i}", "Operator", regions=[RegionFactory()])
    assert count_queries(admin_client, reverse("accounts:user_list")) == few


def test_invite_creates_inactive_user_emails_link_and_accept_signs_in(client, admin_client):
    europe = RegionFactory(name="Europe")
    operator = Group.objects.get(name="Operator")
    response = invite(admin_client, roles=[operator.pk], regions=[europe.pk], mfa_required="on")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    bob = User.objects.get(email="bob@example.com")
    assert bob.username == "bob"
    assert not bob.is_active and not bob.has_usable_password() and bob.mfa_required
    assert list(bob.groups.all()) == [operator]
    assert list(bob.regions.all()) == [europe]
    link = link_from(response)
    assert len(mail.outbox) == 1
    assert link in mail.outbox[0].body
    assert Invitation.objects.get(user=bob).token_hash not in link

    # The invited person, in another browser.
    from django.test import Client

    guest = Client()
    path = link.split("testserver", 1)[1]
    assert guest.get(path).status_code == 200
    weak = guest.post(path, {"new_password1": "short", "new_password2": "short"})
    assert weak.status_code == 422
    bob.refresh_from_db()
    assert not bob.is_active
    good = "correct horse battery staple 42"
    done = guest.post(path, {"new_password1": good, "new_password2": good})
    assert done.status_code == 302
    bob.refresh_from_db()
    assert bob.is_active and bob.check_password(good)
    # The link works once.
    assert Client().get(path).status_code == 410
    again = Client().post(path, {"new_password1": good + "x", "new_password2": good + "x"})
    assert again.status_code == 410


def test_new_invitation_replaces_the_old_link(admin_client):
    first = link_from(invite(admin_client)).split("testserver", 1)[1]
    bob = User.objects.get(email="bob@example.com")
    url = reverse("accounts:user_resend_invitation", args=[bob.uuid])
    second = link_from(admin_client.post(url)).split("testserver", 1)[1]
    from django.test import Client

    assert Client().get(first).status_code == 410
    assert Client().get(second).status_code == 200


def test_invite_validates_and_stores_nothing(admin_client, admin_role_user):
    response = invite(admin_client, email="not-an-email")
    assert response.status_code == 422
    response = invite(admin_client, email=admin_role_user.email)
    assert response.status_code == 422
    assert "already has this email" in response.content.decode()
    response = invite(admin_client, username="alice")
    assert response.status_code == 422
    assert User.objects.count() == 1
    assert not mail.outbox


def test_unknown_or_malformed_invitation_token(client, db):
    assert client.get(reverse("accounts:invitation_accept", args=["nope"])).status_code == 410
    assert (
        client.get(reverse("accounts:invitation_accept", args=["rci_" + "x" * 43])).status_code
        == 410
    )


def test_expired_invitation(admin_client):
    link = link_from(invite(admin_client)).split("testserver", 1)[1]
    from django.utils import timezone

    Invitation.objects.update(expires=timezone.now())
    from django.test import Client

    assert Client().get(link).status_code == 410


def test_cannot_grant_roles_one_does_not_hold(client, db):
    # A custom role that may manage users but holds no fleet permission.
    from tests.factories import scoped_role

    manager_role = scoped_role(
        "User managers", [], "accounts.view_user", "accounts.add_user", "accounts.change_user"
    )
    manager = user_with_role("mgr")
    manager.groups.add(manager_role.group)
    login_with_second_factor(client, manager)
    form = client.get(reverse("accounts:user_add")).content.decode()
    assert "Operator" not in form and "Admin" not in form
    response = invite(client, roles=[Group.objects.get(name="Admin").pk])
    assert response.status_code == 422
    assert not User.objects.filter(email="bob@example.com").exists()


def test_cannot_change_own_roles_or_deactivate_self(admin_client, admin_role_user):
    url = reverse("accounts:user_edit", args=[admin_role_user.uuid])
    response = admin_client.post(
        url,
        {"email": admin_role_user.email, "roles": [Group.objects.get(name="Viewer").pk]},
    )
    assert response.status_code == 422
    assert "your own roles" in response.content.decode()
    assert list(admin_role_user.groups.values_list("name", flat=True)) == ["Admin"]


def test_edit_roles_regions_and_mfa(admin_client):
    carol = user_with_role("carol", "Viewer")
    europe = RegionFactory()
    response = admin_client.post(
        reverse("accounts:user_edit", args=[carol.uuid]),
        {
            "email": "carol@example.com",
            "first_name": "Carol",
            "roles": [Group.objects.get(name="Operator").pk],
            "regions": [europe.pk],
            "mfa_required": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    carol.refresh_from_db()
    assert list(carol.groups.values_list("name", flat=True)) == ["Operator"]
    assert list(carol.regions.all()) == [europe]
    assert carol.mfa_required and carol.first_name == "Carol"


@pytest.mark.parametrize(
    ("role", "list_status", "invite_status"),
    [("Viewer", 403, 403), ("Operator", 403, 403), ("Auditor", 200, 403), ("Admin", 200, 200)],
)
def test_who_may_see_and_invite(client, db, role, list_status, invite_status):
    login_with_second_factor(client, user_with_role("someone", role))
    assert client.get(reverse("accounts:user_list")).status_code == list_status
    assert client.get(reverse("accounts:user_add")).status_code == invite_status


def test_reset_mfa_removes_devices_and_ends_sessions(admin_client):
    from django.test import Client
    from django_otp import devices_for_user

    carol = user_with_role("carol", "Operator")
    carol_browser = login_with_second_factor(Client(), carol)
    assert carol_browser.get("/").status_code == 200
    detail = admin_client.get(reverse("accounts:user_detail", args=[carol.uuid])).content.decode()
    assert "Reset MFA" in detail
    response = admin_client.post(reverse("accounts:user_reset_mfa", args=[carol.uuid]))
    assert response.status_code == 302
    assert not list(devices_for_user(carol))
    assert carol_browser.get("/").status_code == 302  # signed out


def test_sign_out_everywhere(admin_client):
    from django.test import Client

    carol = user_with_role("carol", "Viewer")
    browsers = [login_with_second_factor(Client(), carol) for _ in range(2)]
    assert all(b.get("/").status_code == 200 for b in browsers)
    response = admin_client.post(reverse("accounts:user_sign_out", args=[carol.uuid]))
    assert response.status_code == 302
    assert all(b.get("/").status_code == 302 for b in browsers)


def test_deactivate_signs_out_and_blocks_sign_in(admin_client):
    from django.test import Client

    carol = user_with_role("carol", "Viewer")
    browser = login_with_second_factor(Client(), carol)
    response = admin_client.post(reverse("accounts:user_deactivate", args=[carol.uuid]))
    assert response.status_code == 302
    carol.refresh_from_db()
    assert not carol.is_active
    assert browser.get("/").status_code == 302


def test_sensitive_changes_ask_for_the_password_again(client, db):
    """An admin whose last sign-in is older than the window is asked again."""
    from allauth.account.internal.flows import login as allauth_login

    admin = user_with_role("stale", "Admin")
    login_with_second_factor(client, admin)
    session = client.session
    session[allauth_login.AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": 1.0, "username": "stale"}
    ]
    session.save()
    carol = user_with_role("carol", "Viewer")
    assert client.get(reverse("accounts:user_edit", args=[carol.uuid])).status_code == 200
    response = client.post(
        reverse("accounts:user_edit", args=[carol.uuid]),
        {"email": "carol@example.com", "roles": [Group.objects.get(name="Admin").pk]},
    )
    assert response.status_code == 302
    assert "/accounts/reauthenticate/" in response["Location"]
    assert list(carol.groups.values_list("name", flat=True)) == ["Viewer"]


def test_list_shows_mfa_state(admin_client):
    user_with_role("needs", "Admin")  # Admin requires MFA, none set up
    page = admin_client.get(reverse("accounts:user_list")).content.decode()
    assert "Not set up" in page
    assert ">On<" in page  # alice, signed in with a second factor


def test_invitation_page_keeps_its_token_from_other_sites(client, admin_client):
    link = link_from(invite(admin_client)).split("testserver", 1)[1]
    response = client.get(link)
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cache-Control"] == "no-store"
