"""SCIM 2.0 as Okta and Entra ID send it (their public provisioning docs),
with the response shapes RFC 7643/7644 require."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import ApiKey, DirectoryGroup, GroupMapping, Role, ScimToken, User
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db

SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim(client):
    _token, secret = ScimToken.issue("Okta")

    def call(method, path, body=None, token=secret, **params):
        url = "/scim/v2/" + path
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = SCIM
        if params:
            kwargs["QUERY_STRING"] = "&".join(f"{k}={v}" for k, v in params.items())
        response = getattr(client, method)(url, **kwargs)
        if response.status_code != 204:
            assert response["Content-Type"].startswith(SCIM), response.content
        return response

    return call


def assert_user_shape(resource):
    assert resource["schemas"] == [USER_SCHEMA]
    for key in ("id", "userName", "name", "emails", "active", "meta"):
        assert key in resource, key
    assert resource["meta"]["resourceType"] == "User"
    assert resource["meta"]["location"].endswith(f"/scim/v2/Users/{resource['id']}")
    assert isinstance(resource["active"], bool)


def assert_list_shape(body):
    assert body["schemas"] == [LIST]
    assert {"totalResults", "startIndex", "itemsPerPage", "Resources"} <= set(body)


def assert_error_shape(response, status):
    body = response.json()
    assert response.status_code == status
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]


def test_token_is_required_and_of_its_own_kind(client, scim):
    assert_error_shape(scim("get", "Users", token=None), 401)
    assert_error_shape(scim("get", "Users", token="rcs_not-a-token"), 401)
    # An API key is not a SCIM token.
    owner = user_with_role("api-owner", "Admin")
    _key, secret = ApiKey.issue(owner, "automation", {"accounts": "write"})
    assert_error_shape(scim("get", "Users", token=secret), 401)
    # A signed-in admin session is not enough either.
    from tests.helpers import login_with_second_factor

    login_with_second_factor(client, owner)
    assert client.get("/scim/v2/Users").status_code == 401
    revoked, secret = ScimToken.issue("old")
    revoked.revoke()
    assert_error_shape(scim("get", "Users", token=secret), 401)


def test_okta_sequence(scim):
    viewer = Role.objects.get(group__name="Viewer")
    GroupMapping.objects.create(group="Console Viewers", source="scim", role=viewer)

    # Okta first looks the user up by userName, then creates them.
    found = scim(
        "get", "Users", filter='userName%20eq%20"ann@example.com"', startIndex=1, count=100
    )
    assert found.status_code == 200
    assert_list_shape(found.json())
    assert found.json()["totalResults"] == 0

    created = scim(
        "post",
        "Users",
        {
            "schemas": [USER_SCHEMA],
            "userName": "ann@example.com",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"primary": True, "value": "ann@example.com", "type": "work"}],
            "displayName": "Ann Lee",
            "locale": "en-US",
            "externalId": "00u1abcd",
            "groups": [],
            "password": "ignored-Password-1",
            "active": True,
        },
    )
    assert created.status_code == 201, created.content
    ann = created.json()
    assert_user_shape(ann)
    assert created["Location"] == ann["meta"]["location"]
    user = User.objects.get(uuid=ann["id"])
    assert user.is_active and not user.has_usable_password()  # the password is never used
    assert (user.first_name, user.last_name, user.email) == ("Ann", "Lee", "ann@example.com")

    again = scim("post", "Users", {"schemas": [USER_SCHEMA], "userName": "ANN@example.com"})
    assert_error_shape(again, 409)
    assert again.json()["scimType"] == "uniqueness"

    # Push group: create it, then add the member with PATCH.
    group = scim(
        "post",
        "Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "Console Viewers", "members": []},
    )
    assert group.status_code == 201
    group_id = group.json()["id"]
    patched = scim(
        "patch",
        f"Groups/{group_id}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": ann["id"]}]}],
        },
    )
    assert patched.status_code == 200
    assert [m["value"] for m in patched.json()["members"]] == [ann["id"]]
    assert list(user.groups.values_list("name", flat=True)) == ["Viewer"]

    # Profile update (PUT), then deactivation (PATCH active false).
    put = scim(
        "put",
        f"Users/{ann['id']}",
        {**ann, "name": {"givenName": "Annie", "familyName": "Lee"}, "groups": []},
    )
    assert put.status_code == 200 and put.json()["name"]["givenName"] == "Annie"
    _key, _secret = ApiKey.issue(user, "ann's script", {"gateways": "read"})
    off = scim(
        "patch",
        f"Users/{ann['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert off.status_code == 200 and off.json()["active"] is False
    user.refresh_from_db()
    assert not user.is_active
    assert not ApiKey.objects.usable().filter(owner=user).exists()

    # Removing the member takes the role away.
    scim(
        "patch",
        f"Groups/{group_id}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": "members", "value": [{"value": ann["id"]}]}],
        },
    )
    assert not user.groups.exists()


def test_entra_sequence(scim):
    operator = Role.objects.get(group__name="Operator")
    GroupMapping.objects.create(group="NetOps", role=operator)
    # Entra checks that a made-up user is absent, then filters by externalId.
    probe = scim("get", "Users", filter='userName%20eq%20"nonexistent-7f2b"')
    assert probe.json()["totalResults"] == 0 and probe.json()["Resources"] == []
    created = scim(
        "post",
        "Users",
        {
            "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@contoso.com",
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": "Test_User@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName",
            },
            "roles": [],
        },
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    by_external = scim(
        "get", "Users", filter='externalId%20eq%20"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'
    )
    assert [r["id"] for r in by_external.json()["Resources"]] == [user_id]

    # Entra's PATCH: paths, capitalised ops, booleans as strings.
    patched = scim(
        "patch",
        f"Users/{user_id}",
        {
            "schemas": [PATCH],
            "Operations": [
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "updated@contoso.com",
                },
                {"op": "Add", "path": "externalId", "value": "0a21f0f2-new"},
            ],
        },
    )
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert body["name"]["familyName"] == "updatedFamilyName"
    assert (
        body["emails"][0]["value"] == "updated@contoso.com" and body["externalId"] == "0a21f0f2-new"
    )

    group = scim(
        "post", "Groups", {"schemas": [GROUP_SCHEMA], "displayName": "NetOps", "externalId": "g-1"}
    )
    group_id = group.json()["id"]
    found = scim(
        "get", "Groups", filter='displayName%20eq%20"NetOps"', excludedAttributes="members"
    )
    assert [g["id"] for g in found.json()["Resources"]] == [group_id]
    assert "members" not in found.json()["Resources"][0]
    scim(
        "patch",
        f"Groups/{group_id}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": user_id}]}],
        },
    )
    user = User.objects.get(uuid=user_id)
    assert list(user.groups.values_list("name", flat=True)) == ["Operator"]
    scim(
        "patch",
        f"Groups/{group_id}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "Remove", "path": f'members[value eq "{user_id}"]'}],
        },
    )
    assert not user.groups.exists()

    off = scim(
        "patch",
        f"Users/{user_id}",
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )
    assert off.json()["active"] is False
    # DELETE deactivates (history stays) and answers 204.
    assert scim("delete", f"Users/{user_id}").status_code == 204
    assert User.objects.filter(uuid=user_id, is_active=False).exists()
    assert scim("delete", f"Groups/{group_id}").status_code == 204
    assert not DirectoryGroup.objects.exists()


def test_bad_input_is_a_scim_error_never_a_500(scim):
    assert_error_shape(scim("get", "Users/not-a-uuid"), 404)
    assert_error_shape(scim("get", "Users", filter='title%20co%20"x"'), 400)
    assert_error_shape(scim("post", "Users", {"userName": ""}), 400)
    assert_error_shape(scim("post", "Users", {"userName": "x", "emails": "nope"}), 400)
    assert_error_shape(scim("post", "Users", {"userName": "x", "active": "maybe"}), 400)
    assert_error_shape(scim("get", "Users", startIndex="one"), 400)
    assert not User.objects.filter(username="x").exists()
    created = scim("post", "Users", {"userName": "y"}).json()
    assert_error_shape(scim("patch", f"Users/{created['id']}", {"Operations": "x"}), 400)
    assert_error_shape(
        scim(
            "patch",
            f"Users/{created['id']}",
            {"Operations": [{"op": "replace", "path": "title", "value": 1}]},
        ),
        400,
    )
    raw = scim("post", "Groups", None)
    assert_error_shape(raw, 400)


def test_service_accounts_and_local_users_are_invisible(scim):
    user_with_role("robot", is_service_account=True)
    user_with_role("local")
    assert scim("get", "Users").json()["totalResults"] == 0


def test_discovery_endpoints(scim):
    config = scim("get", "ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True and config["filter"]["supported"] is True
    types = scim("get", "ResourceTypes").json()
    assert_list_shape(types)
    assert {r["endpoint"] for r in types["Resources"]} == {"/Users", "/Groups"}
    assert_list_shape(scim("get", "Schemas").json())


def test_scim_tokens_are_made_on_the_directory_page(client):
    from tests.helpers import login_with_second_factor

    login_with_second_factor(client, user_with_role("scim-admin", "Admin"))
    response = client.post(reverse("accounts:scim_token_add"), {"name": "Okta"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = ScimToken.objects.get()
    text = response.content.decode()
    assert token.prefix in text and "Shown only this once" in text
    bad = client.post(reverse("accounts:scim_token_add"), {"name": " "})
    assert bad.status_code == 422
    client.post(reverse("accounts:scim_token_revoke", kwargs={"uuid": token.uuid}))
    token.refresh_from_db()
    assert token.revoked is not None
