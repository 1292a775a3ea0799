"""OpenID Connect sign-in against a real provider (node's oidc-provider on
loopback, tests/directory_support/oidc.py), driven at the callback with the
test client: the whole exchange (discovery, PKCE, state, code, token, JWKS,
userinfo) is real, and so is the verification code that refuses bad tokens.

Tokens that a correct provider never sends (another audience, expired, signed
with another key) come from a token endpoint served by the test, with the rest
of the discovery document (issuer, JWKS) the real provider's.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts.models import DirectoryIdentity, GroupMapping, Role, User
from accounts.sso.oidc import nonce_for
from audit.models import AuditRecord
from tests.directory_support.oidc import (
    CLIENT_ID,
    OTHER_CLIENT_ID,
    PASSWORD,
    PROVIDER_ID,
    id_token_claims,
    new_key,
    oidc_provider,  # noqa: F401  (the fixture)
    use_provider,
)
from tests.factories import RegionFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = f"/accounts/oidc/{PROVIDER_ID}/login/"
CALLBACK_URL = f"/accounts/oidc/{PROVIDER_ID}/login/callback/"


@pytest.fixture
def idp(settings, oidc_provider):  # noqa: F811
    use_provider(settings, oidc_provider)
    settings.ACCOUNT_RATE_LIMITS = False
    eu = RegionFactory(name="EU")
    RegionFactory(name="US")
    netops = GroupMapping.objects.create(
        group="netops", source="oidc", role=Role.objects.get(group__name="Operator")
    )
    netops.regions.set([eu])
    GroupMapping.objects.create(group="auditors", role=Role.objects.get(group__name="Auditor"))
    return oidc_provider


def start(client) -> dict:
    """Press the button: the console redirects to the provider."""
    response = client.post(LOGIN_URL)
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def authorize(authorize_url: str, login: str, password: str = PASSWORD) -> str:
    """What the browser does at the provider: open the authorization URL,
    fill its sign-in form, follow it back. Returns the console URL it
    sends the browser to."""
    session = requests.Session()
    page = session.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    response = session.post(
        page.url, data={"login": login, "password": password}, allow_redirects=False, timeout=10
    )
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith("http://testserver/"):
            return location.removeprefix("http://testserver")
        response = session.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"The provider did not send the browser back: {response.text[:500]}")


def sign_in(client, login: str):
    callback = authorize(start(client)["Location"], login)
    return client.get(callback)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_authorization_request_uses_pkce_state_and_nonce(client, idp):
    query = parse_qs(urlparse(start(client)["Location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"] == [nonce_for(query["state"][0])]
    assert set(query["scope"][0].split()) == {"openid", "profile", "email"}


def test_sign_in_creates_the_user_with_the_role_and_regions_of_their_groups(client, idp):
    account = idp.set_account(
        "ann",
        email="ann@example.com",
        email_verified=True,
        given_name="Ann",
        family_name="Example",
        preferred_username="ann",
        groups=["NetOps", "unmapped"],
    )
    response = sign_in(client, "ann")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get(email="ann@example.com")
    assert signed_in(client) and client.session["_auth_user_id"] == str(user.pk)
    assert (user.first_name, user.last_name) == ("Ann", "Example")
    assert not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == ["Operator"]
    assert list(user.regions.values_list("name", flat=True)) == ["EU"]
    identity = DirectoryIdentity.objects.get(user=user)
    assert identity.source == "oidc"
    assert identity.external_id == f"{PROVIDER_ID}:{account['sub']}"
    assert identity.groups == ["NetOps", "unmapped"]
    assert SocialAccount.objects.get(user=user).uid == account["sub"]


def test_the_next_sign_in_follows_the_groups_at_the_provider(client, idp):
    idp.set_account("bea", email="bea@example.com", email_verified=True, groups=["netops"])
    assert sign_in(client, "bea").status_code == 302
    bea = User.objects.get(email="bea@example.com")

    client.logout()
    idp.set_account("bea", email="bea@example.com", email_verified=True, groups=["auditors"])
    assert sign_in(client, "bea").status_code == 302
    assert list(bea.groups.values_list("name", flat=True)) == ["Auditor"]
    assert not bea.regions.exists()  # the Auditor mapping has no regions

    client.logout()
    idp.set_account("bea", email="bea@example.com", email_verified=True, groups=[])
    response = sign_in(client, "bea")
    assert response.status_code == 403
    assert "not in any group that gives access" in response.content.decode()
    assert not signed_in(client)
    assert not bea.groups.exists()
    assert User.objects.filter(email="bea@example.com").count() == 1


def test_someone_in_no_mapped_group_is_not_created(client, idp):
    idp.set_account("cid", email="cid@example.com", email_verified=True, groups=["misc"])
    response = sign_in(client, "cid")
    assert response.status_code == 403
    assert "not in any group that gives access" in response.content.decode()
    assert not User.objects.filter(email="cid@example.com").exists()
    assert not signed_in(client)


def test_a_verified_email_links_an_existing_user_an_unverified_one_does_not(client, idp):
    local = User.objects.create_user(username="dan", email="dan@example.com", password="x" * 20)
    idp.set_account("dan", email="dan@example.com", email_verified=False, groups=["netops"])
    response = sign_in(client, "dan")
    # Refused with a reason: not linked, and no second account with the same
    # email through allauth's sign-up form (where one picks one's own email).
    assert response.status_code == 403
    assert "already uses your email address" in response.content.decode()
    assert not SocialAccount.objects.exists()
    assert list(User.objects.values_list("username", flat=True)) == ["dan"]
    assert not signed_in(client)
    assert not local.groups.exists()

    idp.set_account("dan", email="dan@example.com", email_verified=True, groups=["netops"])
    assert sign_in(client, "dan").status_code == 302
    assert client.session["_auth_user_id"] == str(local.pk)
    assert SocialAccount.objects.filter(user=local).exists()


def test_someone_without_an_email_is_not_sent_to_a_sign_up_form(client, idp):
    idp.set_account("hal", preferred_username="hal", groups=["netops"])
    response = sign_in(client, "hal")
    assert response.status_code == 403
    assert "did not send an email address" in response.content.decode()
    assert not User.objects.filter(username="hal").exists()
    assert not signed_in(client)


def test_a_tampered_state_is_refused(client, idp):
    idp.set_account("eve", email="eve@example.com", email_verified=True, groups=["netops"])
    callback = authorize(start(client)["Location"], "eve")
    parts = urlparse(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
    response = client.get(parts.path, query)
    assert response.status_code == 400
    assert "This sign-in has expired or was already used" in response.content.decode()
    assert not User.objects.filter(email="eve@example.com").exists()
    assert not signed_in(client)
    failure = AuditRecord.objects.get(action="sso.failed")
    assert failure.outcome == "failure" and failure.object_type == "sso.provider"
    assert query["state"] not in json.dumps(failure.detail)


def test_a_callback_is_accepted_once(client, idp):
    idp.set_account("fay", email="fay@example.com", email_verified=True, groups=["netops"])
    callback = authorize(start(client)["Location"], "fay")
    assert client.get(callback).status_code == 302
    client.logout()
    response = client.get(callback)
    assert response.status_code == 400
    assert not signed_in(client)


def test_a_response_from_another_issuer_is_refused(client, idp):
    idp.set_account("gus", email="gus@example.com", email_verified=True, groups=["netops"])
    callback = authorize(start(client)["Location"], "gus")
    parts = urlparse(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["iss"] = "https://attacker.example"
    response = client.get(parts.path, query)
    assert response.status_code == 401
    assert "came from another provider" in response.content.decode()
    assert not User.objects.filter(email="gus@example.com").exists()


def test_a_provider_that_is_down_gets_a_page_not_an_error(client, settings, idp):
    use_provider(settings, idp, issuer="http://127.0.0.1:9")
    response = client.post(LOGIN_URL)
    assert response.status_code == 502
    assert "cannot be reached right now" in response.content.decode()


def test_only_signing_in_is_offered(client, idp):
    assert client.post(LOGIN_URL, {"process": "connect"}).status_code == 404


# --- ID tokens a correct provider never sends --------------------------------


class TokenEndpoint:
    """A token endpoint that answers with ``id_token`` (set by the test)."""

    def __init__(self):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps(
                    {
                        "access_token": "opaque",
                        "token_type": "Bearer",
                        "id_token": endpoint.id_token,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.id_token = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def crafted(settings, idp):
    endpoint = TokenEndpoint()
    use_provider(settings, idp)
    app = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]
    app["settings"]["openid_configuration_overrides"] = {"token_endpoint": endpoint.url}
    app["settings"]["fetch_userinfo"] = False
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def callback_with(client, crafted_endpoint, make_token):
    """Start a sign-in, have the token endpoint answer ``make_token(state)``."""
    state = parse_qs(urlparse(start(client)["Location"]).query)["state"][0]
    crafted_endpoint.id_token = make_token(state)
    return client.get(CALLBACK_URL, {"code": "any-code", "state": state})


def claims_for(idp, state, **overrides):
    claims = id_token_claims(
        idp,
        "sub-crafted",
        nonce_for(state),
        email="crafted@example.com",
        email_verified=True,
        groups=["netops"],
    )
    claims.update(overrides)
    return claims


def test_a_well_formed_token_from_the_test_endpoint_is_accepted(client, idp, crafted):
    # The control: what the refusals below change is the only difference.
    response = callback_with(client, crafted, lambda state: idp.sign(claims_for(idp, state)))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(email="crafted@example.com").groups.get().name == "Operator"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": OTHER_CLIENT_ID}, "issued to another application"),
        ({"aud": [CLIENT_ID, OTHER_CLIENT_ID], "azp": OTHER_CLIENT_ID}, "another application"),
        ({"aud": [CLIENT_ID, OTHER_CLIENT_ID]}, "another application"),
        ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 900}, "has expired"),
        ({"iss": "https://other-issuer.example"}, "issued by another provider"),
        ({"nonce": "not-this-sign-in"}, "does not belong to this sign-in"),
    ],
    ids=[
        "wrong-audience",
        "azp-other-client",
        "several-audiences-no-azp",
        "expired",
        "issuer",
        "nonce",
    ],
)
def test_bad_id_tokens_are_refused(client, idp, crafted, overrides, reason):
    response = callback_with(
        client, crafted, lambda state: idp.sign(claims_for(idp, state, **overrides))
    )
    assert response.status_code == 401
    page = response.content.decode()
    assert "Sign-in failed" in page and reason in page
    assert not User.objects.filter(email="crafted@example.com").exists()
    assert not signed_in(client)


def test_a_token_signed_with_another_key_is_refused(client, idp, crafted):
    forger, _jwk = new_key()
    # Same kid as the provider's key: only the signature can tell them apart.
    response = callback_with(
        client, crafted, lambda state: idp.sign(claims_for(idp, state), key=forger)
    )
    assert response.status_code == 401
    assert "signature is not valid" in response.content.decode()
    assert not User.objects.filter(email="crafted@example.com").exists()
    assert not signed_in(client)


def test_a_token_with_an_unknown_key_or_a_shared_secret_is_refused(client, idp, crafted):
    import jwt

    forger, _jwk = new_key(kid="not-published")
    response = callback_with(
        client, crafted, lambda state: idp.sign(claims_for(idp, state), key=forger, kid="nope")
    )
    assert response.status_code == 401
    assert "key the provider does not publish" in response.content.decode()

    response = callback_with(
        client,
        crafted,
        lambda state: jwt.encode(
            claims_for(idp, state), "client-secret" * 4, algorithm="HS256", headers={"kid": idp.kid}
        ),
    )
    assert response.status_code == 401
    assert "algorithm that is not accepted" in response.content.decode()
    assert not User.objects.filter(email="crafted@example.com").exists()
    assert not signed_in(client)
