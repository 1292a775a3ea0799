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
from django.utils.translation import gettext_lazy as _
from requests import RequestException

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


class IdTokenRejected(OAuth2Error):
    """An ID token (or authorization response) refused; ``message`` is what
    the person is shown (accounts/sso/adapter.py): it names the check that
    failed and never holds the token."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class ProviderUnreachable(OAuth2Error):
    """The provider's discovery document, keys or endpoints did not answer."""


def _same_issuer(a: str, b: str) -> bool:
    # OIDC Discovery 4.3: identical; a trailing slash in the setting is forgiven.
    return str(a).rstrip("/") == str(b).rstrip("/")


def configured_issuer(app) -> str:
    url = app.settings["server_url"]
    return url.split("/.well-known/", 1)[0]


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

    @property
    def openid_config(self):
        try:
            config = super().openid_config
        except (RequestException, ValueError) as exc:
            raise ProviderUnreachable("The discovery document could not be read.") from exc
        # The discovery document must be the configured issuer's own (OIDC
        # Discovery 4.3), else every check below trusts someone else's keys.
        expected = configured_issuer(self.get_provider().app)
        if not _same_issuer(config.get("issuer", ""), expected):
            raise IdTokenRejected(
                _("The provider's discovery document names another issuer than the configured one.")
            )
        return config

    def complete_login(self, request, app, token, **kwargs):
        # RFC 9207: a provider that names itself in the response must be ours.
        returned_issuer = request.GET.get("iss")
        if returned_issuer is not None and not _same_issuer(
            returned_issuer, self.openid_config["issuer"]
        ):
            raise IdTokenRejected(_("The sign-in response came from another provider."))
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise IdTokenRejected(_("The provider sent no ID token."))
        claims = self.decode_id_token(app, id_token, state_id=request.GET.get("state", ""))
        data = {"id_token": claims}
        if app.settings.get("fetch_userinfo", True):
            userinfo = self._fetch_user_info(token.token)
            # The userinfo must describe the same person (OIDC Core 5.3.2).
            if str(userinfo.get("sub")) != str(claims["sub"]):
                raise IdTokenRejected(_("The provider's user information is about someone else."))
            data["userinfo"] = userinfo
        return self.get_provider().sociallogin_from_response(request, data)

    def decode_id_token(self, app, id_token: str, state_id: str) -> dict:
        config = self.openid_config
        try:
            alg, key = jwtkit.fetch_key(id_token, config["jwks_uri"], jwtkit.lookup_kid_jwk)
        except RequestException as exc:
            raise ProviderUnreachable("The provider's keys could not be read.") from exc
        except (jwt.PyJWTError, OAuth2Error, KeyError, ValueError) as exc:
            raise IdTokenRejected(
                _("The ID token is signed with a key the provider does not publish.")
            ) from exc
        if alg not in ALLOWED_ALGORITHMS:
            raise IdTokenRejected(
                _("The ID token is signed with an algorithm that is not accepted.")
            )
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
        except jwt.ExpiredSignatureError as exc:
            raise IdTokenRejected(_("The ID token has expired.")) from exc
        except jwt.InvalidAudienceError as exc:
            raise IdTokenRejected(_("The ID token was issued to another application.")) from exc
        except jwt.InvalidIssuerError as exc:
            raise IdTokenRejected(_("The ID token was issued by another provider.")) from exc
        except jwt.InvalidSignatureError as exc:
            raise IdTokenRejected(_("The ID token's signature is not valid.")) from exc
        except jwt.PyJWTError as exc:
            raise IdTokenRejected(_("The ID token is not valid.")) from exc
        # azp, when present, must be us; with several audiences it must be
        # present (OIDC Core 3.1.3.7).
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != app.client_id:
            raise IdTokenRejected(_("The ID token was issued to another application."))
        if not state_id or not hmac.compare_digest(str(claims["nonce"]), nonce_for(state_id)):
            raise IdTokenRejected(_("The ID token does not belong to this sign-in (nonce)."))
        try:
            jwtkit.verify_jti(claims)
        except OAuth2Error as exc:
            raise IdTokenRejected(_("The ID token was already used.")) from exc
        return claims


def _failed(request, provider_id, exc):
    from allauth.socialaccount.adapter import get_adapter
    from allauth.socialaccount.helpers import render_authentication_error

    provider = get_adapter().get_provider(request, provider_id)
    return render_authentication_error(request, provider, exception=exc)


@login_not_required
def login(request, provider_id):
    # Only signing in: allauth's "connect" and "redirect" processes would tie
    # an identity to whoever is signed in, outside the rules of adapter.py.
    if request.GET.get("process", request.POST.get("process", "login")) != "login":
        raise Http404
    try:
        view = OAuth2LoginView.adapter_view(ConsoleOpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
    except (ProviderUnreachable, RequestException) as exc:
        # The provider is down when the button is pressed: a page, not a 500.
        return _failed(request, provider_id, exc)


@login_not_required
def callback(request, provider_id):
    try:
        view = OAuth2CallbackView.adapter_view(ConsoleOpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
    except (OAuth2Error, RequestException) as exc:
        # Raised where allauth does not catch it (building the token client
        # reads the discovery document): a page, not a 500.
        return _failed(request, provider_id, exc)
