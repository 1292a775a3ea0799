"""The OpenID Connect adapter and views behind ``ConsoleOpenIDConnectProvider``."""

from __future__ import annotations

import hmac

from allauth.account.internal.decorators import login_not_required
from allauth.core.internal.deferred import jwt
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Client, OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404
from django.utils.crypto import salted_hmac

# Asymmetric signatures only: never "none", never a MAC keyed with a secret
# that the provider and every other client share.
ALLOWED_ALGORITHMS = {
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
}
LEEWAY_SECONDS = 30
NONCE_SALT = "accounts.sso.oidc.nonce"


def nonce_for(state_id: str) -> str:
    """The nonce of a sign-in, derived from its state id with the secret key:
    allauth keeps the state in the session and accepts it once, so the nonce
    is bound to this browser and this attempt without storing anything more."""
    return salted_hmac(NONCE_SALT, state_id, algorithm="sha256").hexdigest()


class NonceOAuth2Client(OAuth2Client):
    def get_redirect_url(self, authorization_url, scope, extra_params):
        params = {**extra_params, "nonce": nonce_for(self.state)}
        return super().get_redirect_url(authorization_url, scope, params)


class ConsoleOpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    client_class = NonceOAuth2Client

    def complete_login(self, request, app, token, **kwargs):
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise OAuth2Error("The provider sent no ID token.")
        claims = self.decode_id_token(app, id_token, state_id=request.GET.get("state", ""))
        data = {"id_token": claims}
        if app.settings.get("fetch_userinfo", True):
            userinfo = self._fetch_user_info(token.token)
            # The userinfo must describe the same person (OIDC Core 5.3.2).
            if str(userinfo.get("sub")) != str(claims["sub"]):
                raise OAuth2Error("The userinfo subject differs from the ID token's.")
            data["userinfo"] = userinfo
        return self.get_provider().sociallogin_from_response(request, data)

    def decode_id_token(self, app, id_token: str, state_id: str) -> dict:
        config = self.openid_config
        try:
            alg, key = jwtkit.fetch_key(id_token, config["jwks_uri"], jwtkit.lookup_kid_jwk)
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise OAuth2Error("The ID token's signing key is unknown.") from exc
        if alg not in ALLOWED_ALGORITHMS:
            raise OAuth2Error(f"The ID token is signed with {alg!r}, which is not accepted.")
        try:
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=[alg],
                audience=app.client_id,
                issuer=config["issuer"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce"]},
            )
        except jwt.PyJWTError as exc:
            raise OAuth2Error(f"Invalid ID token: {exc}") from exc
        # Several audiences: we must be the authorised party (OIDC Core 3.1.3.7).
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != app.client_id:
            raise OAuth2Error("The ID token was issued to another client.")
        if not state_id or not hmac.compare_digest(str(claims["nonce"]), nonce_for(state_id)):
            raise OAuth2Error("The ID token's nonce does not match this sign-in.")
        jwtkit.verify_jti(claims)
        return claims


@login_not_required
def login(request, provider_id):
    try:
        view = OAuth2LoginView.adapter_view(ConsoleOpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


@login_not_required
def callback(request, provider_id):
    try:
        view = OAuth2CallbackView.adapter_view(ConsoleOpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
