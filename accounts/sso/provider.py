"""allauth's OpenID Connect provider, stricter (docs/directory.md).

allauth skips the ID token's signature when it fetched the token itself
(allowed by the spec over TLS) and sends no nonce. Here every ID token must
be present, signed with an asymmetric key from the issuer's JWKS, for our
client id, unexpired, and carry the nonce of this sign-in; PKCE and state
are allauth's (accounts/sso/oidc.py).
"""

from __future__ import annotations

from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider

from accounts.sso.oidc import ConsoleOpenIDConnectAdapter


class ConsoleOpenIDConnectProvider(OpenIDConnectProvider):
    # allauth loads the sign-in URLs from this package's urls.py.
    package = "accounts.sso"
    oauth2_adapter_class = ConsoleOpenIDConnectAdapter

    def get_scope(self):
        return list(self.app.settings.get("scope") or self.get_default_scope())


provider_classes = [ConsoleOpenIDConnectProvider]
