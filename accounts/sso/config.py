"""SSO providers from the environment (docs/directory.md), as allauth's
``SOCIALACCOUNT_PROVIDERS``. Nothing here touches the database.

    SSO_OIDC_PROVIDERS=okta,entra
    SSO_OIDC_OKTA_ISSUER=https://example.okta.com/oauth2/default
    SSO_OIDC_OKTA_CLIENT_ID=…   SSO_OIDC_OKTA_CLIENT_SECRET=… (or _FILE)
    SSO_SAML_PROVIDERS=corp
    SSO_SAML_CORP_METADATA_URL=https://idp.example.com/metadata (or _METADATA_FILE)
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from console.env import env_bool, env_list, env_str

OIDC_PROVIDER_CLASS = "accounts.sso.provider.ConsoleOpenIDConnectProvider"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def _provider_ids(name: str) -> list[str]:
    ids = [i.lower() for i in env_list(name, [])]
    for provider_id in ids:
        if not _ID.match(provider_id):
            raise ImproperlyConfigured(
                f"{name}: {provider_id!r} is not an id (lowercase letters, digits and dashes)."
            )
    if len(set(ids)) != len(ids):
        raise ImproperlyConfigured(f"{name} names a provider twice.")
    return ids


def _var(kind: str, provider_id: str, key: str) -> str:
    return f"SSO_{kind}_{provider_id.upper().replace('-', '_')}_{key}"


def _required(name: str) -> str:
    value = env_str(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} is required.")
    return value


def oidc_app(
    provider_id: str,
    *,
    name: str,
    issuer: str,
    client_id: str,
    secret: str,
    groups_claim: str = "groups",
    scopes: tuple[str, ...] = ("openid", "profile", "email"),
) -> dict:
    parsed = urlparse(issuer)
    secure = parsed.scheme == "https" or (
        parsed.scheme == "http" and parsed.hostname in {"localhost", "127.0.0.1", "::1"}
    )
    if not secure or not parsed.hostname:
        raise ImproperlyConfigured(
            f"OpenID Connect provider {provider_id}: the issuer {issuer!r} must be an https:// "
            "URL (http only on localhost)."
        )
    return {
        "provider_id": provider_id,
        "name": name,
        "client_id": client_id,
        "secret": secret,
        "settings": {
            "server_url": issuer,
            "oauth_pkce_enabled": True,
            "fetch_userinfo": True,
            "groups_claim": groups_claim,
            "scope": list(scopes),
        },
    }


def saml_app(
    provider_id: str,
    *,
    name: str,
    idp: dict,
    groups_attribute: str = "groups",
    attribute_mapping: dict | None = None,
    trust_email: bool = False,
    sp_entity_id: str = "",
) -> dict:
    mapping = attribute_mapping or {
        "uid": [
            "urn:oasis:names:tc:SAML:attribute:subject-id",
            "urn:oid:0.9.2342.19200300.100.1.1",
            "uid",
        ],
        "email": [
            "urn:oid:0.9.2342.19200300.100.1.3",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "email",
            "mail",
        ],
        "first_name": [
            "urn:oid:2.5.4.42",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "givenName",
        ],
        "last_name": [
            "urn:oid:2.5.4.4",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "sn",
        ],
        "username": ["username", "uid"],
    }
    app = {
        "provider_id": provider_id,
        "name": name,
        # allauth's SAML URLs carry this as the "organization slug".
        "client_id": provider_id,
        "settings": {
            "idp": idp,
            "attribute_mapping": mapping,
            "groups_attribute": groups_attribute,
            "trust_email": trust_email,
            "advanced": {
                "strict": True,
                # Signed assertions are required: an unsigned one is refused.
                "want_assertion_signed": True,
                "want_message_signed": False,
                "reject_idp_initiated_sso": True,
                "reject_deprecated_algorithm": True,
                "allow_single_label_domains": True,
            },
        },
    }
    if sp_entity_id:
        app["settings"]["sp"] = {"entity_id": sp_entity_id}
    return app


def _saml_idp_from_env(provider_id: str) -> dict:
    metadata_url = env_str(_var("SAML", provider_id, "METADATA_URL"), "").strip()
    metadata_file = env_str(_var("SAML", provider_id, "METADATA_FILE"), "").strip()
    entity_id = env_str(_var("SAML", provider_id, "ENTITY_ID"), "").strip()
    if metadata_url:
        if not entity_id:
            raise ImproperlyConfigured(
                f"{_var('SAML', provider_id, 'ENTITY_ID')} is required with a metadata URL."
            )
        return {"metadata_url": metadata_url, "entity_id": entity_id}
    if metadata_file:
        return idp_from_metadata(Path(metadata_file).read_text(), entity_id or None)
    raise ImproperlyConfigured(
        f"Set {_var('SAML', provider_id, 'METADATA_URL')} or "
        f"{_var('SAML', provider_id, 'METADATA_FILE')}."
    )


def idp_from_metadata(xml: str, entity_id: str | None = None) -> dict:
    """The IdP's entity id, sign-in URL and certificate from its metadata."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, entity_id=entity_id).get("idp", {})
    cert = parsed.get("x509cert") or next(
        iter(parsed.get("x509certMulti", {}).get("signing", [])), ""
    )
    if not parsed.get("entityId") or not cert:
        raise ImproperlyConfigured("SAML metadata without an entity id or a signing certificate.")
    return {
        "entity_id": parsed["entityId"],
        "sso_url": parsed["singleSignOnService"]["url"],
        "x509cert": cert,
    }


def sso_providers_from_env() -> dict:
    oidc_apps = [
        oidc_app(
            provider_id,
            name=env_str(_var("OIDC", provider_id, "NAME"), provider_id.title()),
            issuer=_required(_var("OIDC", provider_id, "ISSUER")),
            client_id=_required(_var("OIDC", provider_id, "CLIENT_ID")),
            secret=_required(_var("OIDC", provider_id, "CLIENT_SECRET")),
            groups_claim=env_str(_var("OIDC", provider_id, "GROUPS_CLAIM"), "groups"),
        )
        for provider_id in _provider_ids("SSO_OIDC_PROVIDERS")
    ]
    saml_apps = [
        saml_app(
            provider_id,
            name=env_str(_var("SAML", provider_id, "NAME"), provider_id.title()),
            idp=_saml_idp_from_env(provider_id),
            groups_attribute=env_str(_var("SAML", provider_id, "GROUPS_ATTRIBUTE"), "groups"),
            trust_email=env_bool(_var("SAML", provider_id, "TRUST_EMAIL"), False),
            sp_entity_id=env_str(_var("SAML", provider_id, "SP_ENTITY_ID"), ""),
        )
        for provider_id in _provider_ids("SSO_SAML_PROVIDERS")
    ]
    return providers_setting(oidc_apps, saml_apps)


def providers_setting(oidc_apps: list[dict], saml_apps: list[dict]) -> dict:
    return {
        "openid_connect": {
            "provider_class": OIDC_PROVIDER_CLASS,
            "OAUTH_PKCE_ENABLED": True,
            "APPS": oidc_apps,
        },
        "saml": {"APPS": saml_apps},
    }


def form_action_sources(providers: dict) -> list[str]:
    """The origins the sign-in page's SSO buttons lead to, for the CSP's
    ``form-action``: a button POSTs to the console, which redirects to the
    provider, and browsers apply ``form-action`` to that redirect too — with
    ``'self'`` alone, every SSO button is blocked by the browser.

    OIDC: the issuer's origin (where Okta, Entra ID, Google, Keycloak serve
    the authorization endpoint). SAML: the IdP's sign-in URL, or else its
    metadata URL's origin."""
    origins: list[str] = []
    urls = [
        app["settings"]["server_url"] for app in providers.get("openid_connect", {}).get("APPS", [])
    ]
    for app in providers.get("saml", {}).get("APPS", []):
        idp = app["settings"].get("idp", {})
        urls.append(idp.get("sso_url") or idp.get("metadata_url") or "")
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme and parsed.netloc:
            origin = f"{parsed.scheme}://{parsed.netloc}"
            if origin not in origins:
                origins.append(origin)
    return origins
