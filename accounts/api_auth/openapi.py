"""How the OpenAPI schema (/api/docs/) describes API authentication.

simplejwt's JWT class is described by drf-spectacular's own contrib
extension ("jwtAuth"); the API-key class needs this one. The schema's
description comes from ``describe_authentication``, a post-processing hook.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

API_DESCRIPTION = """\
Manage the Rustronaut gateway fleet: regions, gateways, tunnels and more.

## Authentication

Every request carries one of these credentials:

* **API key** — for automation. Create one in the console (*Your account → API
  keys*, or *Settings → Service accounts & API keys* for a service account) or
  with `POST /api/v1/auth/keys/`. It is shown once. Send it as
  `Authorization: Bearer rck_…`. A key acts as its owner, limited to its scopes
  (read or write per domain: gateways, tunnels, policies, security, alerts,
  audit, accounts): it can never do more than its owner, and sees only the
  owner's regions. Keys expire and can be revoked at any time.
* **JWT** — for scripts that sign in as a person. `POST /api/v1/auth/token/`
  with `username`, `password` and, when the account has a second factor,
  `otp` (the current code). The answer holds a short-lived `access` token,
  sent as `Authorization: Bearer <access>`, and a `refresh` token. Exchange
  the refresh token at `POST /api/v1/auth/token/refresh/` for a new pair: each
  refresh token works once. `POST /api/v1/auth/token/revoke/` ends it (or all
  of the user's tokens with `"all": true`); signing out of the console and
  deactivation revoke them too.
* **Session** — the browser's, for the console itself (with its CSRF token).

Requests are rate limited per user, per API key and per client IP; over the
limit the answer is `429 Too Many Requests` with `Retry-After` (seconds).
The gateway agent API (`/api/agent/v1/`) accepts only gateway credentials.
"""


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_auth.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rck_…",
            "description": (
                "An API key, sent as `Authorization: Bearer rck_…`; "
                "it acts as its owner within its scopes."
            ),
        }


class JWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_auth.authentication.JWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )
        scheme["description"] = (
            "An access token from POST /api/v1/auth/token/, sent as `Authorization: Bearer …`."
        )
        return scheme


def describe_authentication(result, generator, request, public):
    result.setdefault("info", {})["description"] = API_DESCRIPTION
    return result
