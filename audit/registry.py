"""What is audited and how: noise models, quiet and ignored fields, secrets,
the names of special changes, and how an object is named in a record.

Every model is audited unless listed in ``NOISE_MODELS``; a new model needs
no code here. Other apps may add to these through ``register()`` (from their
``AppConfig.ready()``), see docs/audit.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

MASK = "••••••"

# Models whose rows are telemetry, caches or bookkeeping, or whose events are
# recorded through a signal of their own (MFA devices: accounts.mfa.events;
# failed sign-ins and lockouts: Django's and axes' signals; sessions: sign-in,
# sign-out and security.signals.session_ended). They are never audited per
# save, so their bulk writes (ingest, heartbeats) cost nothing more.
NOISE_MODELS = {
    "admin.logentry",  # Django admin's own log of what the audit log records
    "auth.permission",  # created by migrate
    "contenttypes.contenttype",
    "sessions.session",
    "account.emailconfirmation",
    "axes.accessattempt",
    "axes.accessattemptexpiration",
    "axes.accessfailurelog",
    "axes.accesslog",
    "django_celery_beat.periodictasks",  # beat's change counter
    "django_celery_beat.solarschedule",
    "django_celery_beat.clockedschedule",
    "taggit.tag",  # tag changes are recorded on the tagged object (m2m)
    "taggit.taggeditem",
    "otp_totp.totpdevice",
    "otp_static.staticdevice",
    "otp_static.statictoken",
    "django_otp_webauthn.webauthncredential",
    "django_otp_webauthn.webauthnattestation",
    "django_otp_webauthn.webauthnuserhandle",
    "gateways.metricsample",
    "gateways.metricrollup",
    "gateways.gatewaystatuschange",  # status history written by heartbeats and tasks
    "gateways.fleetconfig",  # a version counter bumped after config changes
    "gateways.retiredcredential",  # follows a gateway's deletion, which is recorded
    "security.securityevent",  # ingested from gateways
    "security.usersession",
    "audit.auditrecord",
    "audit.auditchainhead",
    "audit.auditarchive",
}

# Fields never shown in a diff: automatic timestamps and bookkeeping.
IGNORED_FIELDS = {"id", "created", "updated", "modified", "date_changed"}

# Fields that change by themselves (telemetry, last-use stamps, preferences):
# a save that changes only these records nothing; alongside another change
# they are shown.
QUIET_FIELDS = {
    "*": {"last_login", "last_used", "last_used_ip", "last_used_at", "last_active"},
    "accounts.user": {"preferences"},
    "gateways.gateway": {"status", "last_seen", "software_version", "hostname"},
    "tunnels.tunnel": {"state", "latency_ms", "last_handshake", "state_changed"},
    "django_celery_beat.periodictask": {"last_run_at", "total_run_count"},
    "accounts.directoryidentity": {"last_synced"},
}

# Field names (and JSON keys) whose values are secrets: shown as MASK, so a
# diff says that a credential changed, never what it is.
SECRET_NAME = re.compile(
    r"(password|passwd|secret|token|credential|_hash$|^hash$|^key$|private|session_key"
    r"|session_data|api_key|bind_pw|client_secret|otp)",
    re.IGNORECASE,
)
# Names the pattern catches that are not secrets.
NOT_SECRET = {
    "credential_issued",
    "token_type",
    "prefix",
    "jti",
    "expires_at",
    "blacklisted_at",
    "mfa_required",
    "sso_only",
}


def is_secret(name: str) -> bool:
    return name not in NOT_SECRET and bool(SECRET_NAME.search(name))


def scrub(value, name: str = ""):
    """``value`` with secrets masked, JSON values walked key by key."""
    if name and is_secret(name):
        return MASK if value not in (None, "", b"") else value
    if isinstance(value, dict):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def scrub_changes(changes: dict) -> dict:
    """A diff with each side masked by its field's name."""
    masked = {}
    for name, change in changes.items():
        if isinstance(change, list | tuple) and len(change) == 2:
            masked[name] = [scrub(change[0], name), scrub(change[1], name)]
        elif isinstance(change, dict):  # many-to-many: names added/removed
            masked[name] = {k: scrub(v) for k, v in change.items()}
        else:
            masked[name] = scrub(change, name)
    return masked


@dataclass
class ModelOptions:
    """How one model is audited (beyond the defaults)."""

    # (changes, event) -> action name or None; event is create, update, delete.
    action: Callable[[dict, str], str | None] | None = None
    # obj -> (object_type, object_id, object_name) to record it as another
    # object (a role's group is recorded as the role).
    represent: Callable | None = None
    # obj -> user: the actor when nobody is signed in (a JWT issued by the
    # token endpoint acts for the token's user).
    acting_user: Callable | None = None
    quiet: set[str] = field(default_factory=set)
    m2m_actions: dict[str, str] = field(default_factory=dict)


OPTIONS: dict[str, ModelOptions] = {}


def register(label: str, **options) -> None:
    """Audit ``label`` ("app.Model") with these options; ``noise=True`` stops
    auditing its saves (for models whose events another app records itself)."""
    key = label.lower()
    if options.pop("noise", False):
        NOISE_MODELS.add(key)
        return
    current = OPTIONS.setdefault(key, ModelOptions())
    for name, value in options.items():
        setattr(current, name, value)


def options_for(model) -> ModelOptions:
    return OPTIONS.get(model._meta.label_lower) or _DEFAULT


_DEFAULT = ModelOptions()


def is_audited(model) -> bool:
    opts = model._meta
    return not (
        opts.label_lower in NOISE_MODELS or opts.abstract or opts.proxy or opts.auto_created
    )


def quiet_fields(model) -> set[str]:
    return (
        QUIET_FIELDS["*"]
        | QUIET_FIELDS.get(model._meta.label_lower, set())
        | options_for(model).quiet
    )


def describe(obj) -> tuple[str, str, str]:
    """(object type, object id, object name) of ``obj``: its public uuid when
    it has one, else its primary key."""
    model = obj.__class__  # a request's lazy user proxies __class__, not type()
    represent = options_for(model).represent
    if represent is not None:
        represented = represent(obj)
        if represented is not None:
            return represented
    public = getattr(obj, "uuid", None)
    object_id = str(public if public is not None else obj.pk)
    try:
        name = str(obj)
    except Exception:  # a half-deleted object whose __str__ follows a relation
        name = object_id
    return model._meta.label_lower, object_id, name[:255]


# --- the console's own models ------------------------------------------------


def _changed(changes: dict, name: str) -> bool:
    return name in changes


def _user_action(changes, event):
    if event != "update":
        return None
    if _changed(changes, "is_active"):
        return "user.activate" if changes["is_active"][1] else "user.deactivate"
    if _changed(changes, "password") and len(changes) == 1:
        return "password.change"
    return None


def _api_key_action(changes, event):
    if event == "create":
        return "apikey.create"
    if event == "update" and changes.get("revoked", [1, None])[0] is None:
        return "apikey.revoke"
    return None


def _gateway_action(changes, event):
    if event != "update" or "credential_hash" not in changes:
        return None
    return "gateway.enrol" if changes["credential_hash"][1] else "gateway.credential_rotate"


def _group_as_role(group):
    role = getattr(group, "role", None) if group.pk else None
    if role is None:
        return None
    return "accounts.role", str(role.uuid), group.name


def _token_user(token):
    return getattr(token, "user", None)


def _blacklisted_token_user(blacklisted):
    return getattr(blacklisted.token, "user", None)


register("accounts.User", action=_user_action, m2m_actions={"groups": "user.roles_change"})
register("accounts.ApiKey", action=_api_key_action)
register("gateways.Gateway", action=_gateway_action)
register(
    "gateways.EnrollmentToken",
    action=lambda changes, event: "gateway.token_issue" if event == "create" else None,
)
register(
    "auth.Group",
    represent=_group_as_role,
    m2m_actions={"permissions": "role.permissions_change"},
)
register(
    "token_blacklist.OutstandingToken",
    action=lambda changes, event: "token.issue" if event == "create" else None,
    acting_user=_token_user,
)
register(
    "token_blacklist.BlacklistedToken",
    action=lambda changes, event: "token.revoke" if event == "create" else None,
    acting_user=_blacklisted_token_user,
)
