"""SAML 2.0 sign-in against a real IdP (pysaml2 with xmlsec1 in its own
process on loopback, tests/directory_support/saml_idp.py), driven with the
test client through allauth's SAML views and python3-saml's checks."""

from __future__ import annotations

import base64
import re
from html import unescape
from urllib.parse import urlparse

import pytest
import requests
from django.urls import reverse

from accounts.models import DirectoryIdentity, GroupMapping, Role, User
from tests.directory_support.saml import (
    PASSWORD,
    PROVIDER_ID,
    saml_idp,  # noqa: F401  (the fixture)
    use_idp,
)
from tests.factories import RegionFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = f"/accounts/saml/{PROVIDER_ID}/login/"


@pytest.fixture
def idp(client, settings, saml_idp):  # noqa: F811
    # python3-saml reads the Host header, which every browser sends.
    client.defaults["HTTP_HOST"] = "testserver"
    use_idp(settings, saml_idp)
    settings.ACCOUNT_RATE_LIMITS = False
    eu = RegionFactory(name="EU")
    netops = GroupMapping.objects.create(
        group="netops", source="saml", role=Role.objects.get(group__name="Operator")
    )
    netops.regions.set([eu])
    GroupMapping.objects.create(group="auditors", role=Role.objects.get(group__name="Auditor"))
    return saml_idp


def response_from_idp(client, login: str) -> tuple[str, dict]:
    """Press the button, sign in at the IdP; returns the ACS path and the
    fields the IdP's page would POST there."""
    start = client.post(LOGIN_URL)
    assert start.status_code == 302, start.content.decode()[:500]
    session = requests.Session()
    form_page = session.get(start["Location"], timeout=10)
    assert form_page.status_code == 200, form_page.text[:500]
    fields = dict(re.findall(r'name="(SAMLRequest|RelayState)" value="([^"]*)"', form_page.text))
    fields = {k: unescape(v) for k, v in fields.items()}
    answer = session.post(
        f"{urlparse(start['Location']).scheme}://{urlparse(start['Location']).netloc}/sso/login",
        data={**fields, "login": login, "password": PASSWORD},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:500]
    action = unescape(re.search(r'action="([^"]+)"', answer.text).group(1))
    posted = {k: unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', answer.text)}
    return urlparse(action).path, posted


def post_to_acs(client, path: str, fields: dict):
    response = client.post(path, fields)
    assert response.status_code == 302
    return client.get(response["Location"])


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_a_signed_assertion_signs_in_and_applies_the_mappings(client, idp):
    idp.set_account("ann", groups=["netops", "Auditors"], email="ann@example.com")
    path, fields = response_from_idp(client, "ann")
    assert path == reverse("saml_acs", args=[PROVIDER_ID])
    response = post_to_acs(client, path, fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="ann@example.com")
    assert signed_in(client) and client.session["_auth_user_id"] == str(user.pk)
    assert set(user.groups.values_list("name", flat=True)) == {"Operator", "Auditor"}
    assert not user.regions.exists()  # Auditor's mapping has no regions
    identity = DirectoryIdentity.objects.get(user=user)
    assert identity.source == "saml" and identity.external_id == f"{PROVIDER_ID}:uid-ann"

    # Out of auditors at the IdP: the next sign-in takes the role away.
    client.logout()
    idp.set_account("ann", groups=["netops"], email="ann@example.com")
    assert post_to_acs(client, *response_from_idp(client, "ann")).status_code == 302
    assert list(user.groups.values_list("name", flat=True)) == ["Operator"]
    assert list(user.regions.values_list("name", flat=True)) == ["EU"]


def test_an_unsigned_assertion_is_refused(client, idp):
    idp.set_account("uma", groups=["netops"], email="uma@example.com", sign=False)
    response = post_to_acs(client, *response_from_idp(client, "uma"))
    assert response.status_code == 401
    page = response.content.decode()
    assert "Sign-in failed" in page and "not signed" in page
    assert not User.objects.filter(email="uma@example.com").exists()
    assert not signed_in(client)


def test_a_tampered_assertion_is_refused(client, idp):
    idp.set_account("tom", groups=["viewers"], email="tom@example.com")
    path, fields = response_from_idp(client, "tom")
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert ">viewers<" in xml
    fields["SAMLResponse"] = base64.b64encode(
        xml.replace(">viewers<", ">netops<").encode()
    ).decode()
    response = post_to_acs(client, path, fields)
    assert response.status_code == 401
    assert "Sign-in failed" in response.content.decode()
    assert not User.objects.filter(email="tom@example.com").exists()
    assert not signed_in(client)


def test_a_response_is_accepted_once(client, idp):
    idp.set_account("ray", groups=["netops"], email="ray@example.com")
    path, fields = response_from_idp(client, "ray")
    assert post_to_acs(client, path, fields).status_code == 302
    client.logout()
    response = post_to_acs(client, path, fields)
    assert response.status_code in {400, 401, 403}
    assert not signed_in(client)
