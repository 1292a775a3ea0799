"""Pages: Your account → API keys (own keys: list, create → shown once,
revoke with confirmation) and Settings → Service accounts & API keys
(permission-gated)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiKey, User
from tests.accounts.api_auth_helpers import (
    GATEWAYS_URL,
    bearer,
    fresh_login,
    roomy_limits,  # noqa: F401  (fixture)
)
from tests.factories import user_with_perms

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roomy_limits")]


@pytest.fixture
def viewer_client(client, viewer):
    return fresh_login(client, viewer)


LIST = "/account/api-keys/"
NEW = "/account/api-keys/new/"
SERVICE = "/settings/service-accounts/"


def key_form(**extra):
    return {"name": "Nightly export", "expires_in": "90", "scope_gateways": "read", **extra}


def test_the_account_page_links_to_api_keys(viewer_client):
    assert LIST in viewer_client.get("/account/").content.decode()


def test_create_shows_the_key_once_and_stores_its_hash(viewer_client, viewer):
    response = viewer_client.post(NEW, key_form())

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    api_key = ApiKey.objects.get(owner=viewer)
    page = response.content.decode()
    key = page.split('id="api-key" class="secret"><code>')[1].split("<")[0]
    assert key.startswith(api_key.prefix) and len(key) > 40
    assert 'data-action="copy"' in page
    assert api_key.scopes == {"gateways": "read"}
    listing = viewer_client.get(LIST).content.decode()
    assert api_key.prefix in listing
    assert key not in listing
    assert bearer(key).get(GATEWAYS_URL).status_code == 200


def test_bad_input_is_422_with_field_messages_and_stores_nothing(viewer_client):
    response = viewer_client.post(NEW, key_form(name="", scope_gateways="", expires_in="x"))

    assert response.status_code == 422
    form = response.context["form"]
    assert {"name", "expires_in"} <= set(form.errors)
    assert ApiKey.objects.count() == 0


def test_a_key_needs_a_scope(viewer_client):
    response = viewer_client.post(NEW, key_form(scope_gateways=""))

    assert response.status_code == 422
    assert response.context["form"].non_field_errors()
    assert ApiKey.objects.count() == 0


def test_creating_a_key_asks_for_a_recent_password(client, viewer):
    client.force_login(viewer)  # no recent sign-in on record

    assert client.get(NEW).status_code == 200
    response = client.post(NEW, key_form())

    assert response.status_code == 302
    assert "/accounts/reauthenticate/" in response["Location"]
    assert ApiKey.objects.count() == 0


def test_revoke_asks_then_revokes(viewer_client, viewer):
    api_key, key = ApiKey.issue(owner=viewer, name="k", scopes={"gateways": "read"})
    url = f"/account/api-keys/{api_key.uuid}/revoke/"

    confirm = viewer_client.get(url)
    assert confirm.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked is None

    assert viewer_client.post(url).status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked is not None
    assert bearer(key).get(GATEWAYS_URL).status_code == 401


def test_nobody_revokes_someone_elses_key(viewer_client, operator):
    api_key, _key = ApiKey.issue(owner=operator, name="k", scopes={"gateways": "read"})

    assert viewer_client.post(f"/account/api-keys/{api_key.uuid}/revoke/").status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked is None


def test_anonymous_is_sent_to_sign_in(client):
    for url in (LIST, NEW, SERVICE):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


# --- Service accounts -----------------------------------------------------------------------


@pytest.fixture
def user_admin(db):
    return user_with_perms(
        "useradmin", "accounts.view_user", "accounts.add_user", "accounts.change_user"
    )


def test_service_accounts_need_the_user_permissions(viewer_client):
    assert viewer_client.get(SERVICE).status_code == 403
    assert viewer_client.get(SERVICE + "new/").status_code == 403
    assert "service-accounts" not in viewer_client.get("/settings/").content.decode()


def test_an_admin_creates_a_service_account_and_its_key(user_admin):
    from django.contrib.auth.models import Group

    from tests.conftest import GATEWAY_VIEW

    group = Group.objects.create(name="Readers")
    for perm in GATEWAY_VIEW:
        app, codename = perm.split(".")
        group.permissions.add(
            __import__(
                "django.contrib.auth.models", fromlist=["Permission"]
            ).Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    client = fresh_login(Client(), user_admin)

    assert (
        client.post(SERVICE + "new/", {"username": "ci-deploy", "roles": [group.pk]}).status_code
        == 302
    )
    account = User.objects.get(username="ci-deploy")
    assert account.is_service_account and not account.has_usable_password()

    response = client.post(f"{SERVICE}{account.uuid}/keys/new/", key_form())
    assert response.status_code == 200
    key = response.content.decode().split('id="api-key" class="secret"><code>')[1].split("<")[0]
    api_key = ApiKey.objects.get(owner=account)
    assert api_key.created_by == user_admin
    assert bearer(key).get(GATEWAYS_URL).status_code == 200
    assert api_key.prefix in client.get(SERVICE).content.decode()

    revoke = f"{SERVICE}{account.uuid}/keys/{api_key.uuid}/revoke/"
    assert client.post(revoke).status_code == 302
    assert bearer(key).get(GATEWAYS_URL).status_code == 401


def test_only_service_accounts_get_keys_from_settings(user_admin, viewer):
    client = fresh_login(Client(), user_admin)

    assert client.get(f"{SERVICE}{viewer.uuid}/keys/new/").status_code == 404


def test_a_reader_of_users_cannot_create_service_accounts(db):
    auditor = user_with_perms("aud", "accounts.view_user")
    client = Client()
    client.force_login(auditor)

    assert client.get(SERVICE).status_code == 200
    assert client.post(SERVICE + "new/", {"username": "x"}).status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_bad_service_account_input_is_422(user_admin):
    client = fresh_login(Client(), user_admin)

    response = client.post(SERVICE + "new/", {"username": "bad name!"})

    assert response.status_code == 422
    assert "username" in response.context["form"].errors
