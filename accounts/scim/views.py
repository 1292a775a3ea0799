"""SCIM 2.0 endpoints: what Okta and Entra ID send when they provision.

Users: create (POST), read and filter (``userName eq "…"``, ``externalId eq
"…"``), replace (PUT), patch (PATCH: Okta's ``{"op": "replace", "value":
{"active": false}}`` and Entra's ``{"op": "Replace", "path": "active",
"value": "False"}``), deactivate (``active: false`` or DELETE: the user is
kept, deactivated, signed out everywhere, their tokens and keys revoked).
Groups: create, read, filter by displayName, patch members, rename, delete.
A user's roles follow their groups through the group mappings (source
"scim"). Bad input is a SCIM error (4xx JSON), never a 500.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid

from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from accounts.directory import mapping
from accounts.directory.deactivation import deactivate
from accounts.models import DirectoryGroup, DirectoryIdentity, ScimToken, User

logger = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTENT_TYPE = "application/scim+json"
MAX_BODY = 1024 * 1024
MAX_COUNT = 200
SOURCE = "scim"


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def scim_response(data, status=200):
    return JsonResponse(data, status=status, content_type=CONTENT_TYPE)


def error_response(exc: ScimError):
    body = {"schemas": [ERROR_SCHEMA], "status": str(exc.status), "detail": exc.detail}
    if exc.scim_type:
        body["scimType"] = exc.scim_type
    response = scim_response(body, exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="SCIM"'
    return response


def authenticate(request) -> ScimToken:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ScimError(401, "A SCIM bearer token is required.")
    scim_token = ScimToken.find(token.strip())
    if scim_token is None:
        raise ScimError(401, "The bearer token is not a valid SCIM token.")
    now = timezone.now()
    if scim_token.last_used is None or (now - scim_token.last_used).total_seconds() > 60:
        ScimToken.objects.filter(pk=scim_token.pk).update(last_used=now)
    return scim_token


def read_json(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise ScimError(413, "The request body is too large.")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ScimError(400, "The body is not JSON.", "invalidSyntax") from None
    if not isinstance(data, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return data


@method_decorator([csrf_exempt, login_not_required], name="dispatch")
class ScimView(View):
    """Token first, then the handler; ScimError becomes a SCIM error body."""

    def dispatch(self, request, *args, **kwargs):
        try:
            request.scim_token = authenticate(request)
            handler = getattr(self, request.method.lower(), None)
            if handler is None:
                raise ScimError(405, f"{request.method} is not supported here.")
            return handler(request, *args, **kwargs)
        except ScimError as exc:
            return error_response(exc)


def _function_view(handler):
    class _View(ScimView):
        def get(self, request):
            return handler(request)

    return _View.as_view()


# --- Filters -------------------------------------------------------------------

FILTER = re.compile(
    r'^\s*([A-Za-z.]+(?:\[[^\]]*\])?(?:\.[A-Za-z]+)?)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$'
)


def parse_filter(text: str, allowed: dict[str, str]) -> tuple[str, str] | None:
    """``attr eq "value"``, the filter identity providers send before they
    create anything; an unsupported one is a 400 (invalidFilter)."""
    if not text:
        return None
    match = FILTER.match(text)
    if not match or match.group(1).lower() not in allowed:
        raise ScimError(400, f"Unsupported filter: {text[:200]}", "invalidFilter")
    value = json.loads(f'"{match.group(2)}"')
    return allowed[match.group(1).lower()], value


def paginate(request, queryset, render):
    try:
        start = max(int(request.GET.get("startIndex", 1)), 1)
        count = min(max(int(request.GET.get("count", 100)), 0), MAX_COUNT)
    except ValueError:
        raise ScimError(400, "startIndex and count must be whole numbers.") from None
    total = queryset.count()
    page = list(queryset[start - 1 : start - 1 + count]) if count else []
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [render(request, obj) for obj in page],
        }
    )


# --- Users ---------------------------------------------------------------------


def _identity(user):
    return getattr(user, "directory_identity", None)


def user_resource(request, user) -> dict:
    identity = _identity(user)
    emails = [{"value": user.email, "type": "work", "primary": True}] if user.email else []
    modified = (identity.last_synced if identity else None) or user.date_joined
    return {
        "schemas": [USER_SCHEMA],
        "id": str(user.uuid),
        "externalId": identity.external_id if identity and identity.external_id else None,
        "userName": user.username,
        "name": {
            "givenName": user.first_name,
            "familyName": user.last_name,
            "formatted": user.get_full_name(),
        },
        "displayName": user.get_full_name() or user.username,
        "emails": emails,
        "active": user.is_active,
        "groups": [
            {"value": str(g.uuid), "display": g.display_name} for g in user.directory_groups.all()
        ],
        "meta": {
            "resourceType": "User",
            "created": user.date_joined.isoformat(),
            "lastModified": modified.isoformat(),
            "location": request.build_absolute_uri(
                reverse("scim:user", kwargs={"scim_id": user.uuid})
            ),
        },
    }


def _users():
    # Service accounts are the console's own; a SCIM client never sees them.
    return (
        User.objects.filter(is_service_account=False, directory_identity__isnull=False)
        .select_related("directory_identity")
        .prefetch_related("directory_groups")
        .order_by("date_joined", "pk")
    )


def get_user(scim_id: str):
    try:
        key = uuid.UUID(scim_id)
    except ValueError:
        raise ScimError(404, "No such user.") from None
    user = _users().filter(uuid=key).first()
    if user is None:
        raise ScimError(404, "No such user.")
    return user


def _as_bool(value) -> bool:
    # Entra sends "True"/"False" as strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ScimError(400, "active must be true or false.", "invalidValue")


def _primary_email(emails) -> str | None:
    if emails in (None, []):
        return ""
    if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
        raise ScimError(400, "emails must be a list of objects.", "invalidValue")
    chosen = next((e for e in emails if e.get("primary")), emails[0])
    value = chosen.get("value", "")
    if not isinstance(value, str) or (value and "@" not in value) or len(value) > 254:
        raise ScimError(400, "emails[].value is not an email address.", "invalidValue")
    return value


def apply_user_attributes(user, data: dict, *, replace: bool) -> bool | None:
    """Copy SCIM attributes onto ``user``; returns the requested ``active``."""
    if "userName" in data or replace:
        username = data.get("userName")
        if not isinstance(username, str) or not username.strip() or len(username) > 150:
            raise ScimError(400, "userName is required (at most 150 characters).", "invalidValue")
        user.username = username.strip()
    name = data.get("name")
    if name is not None and not isinstance(name, dict):
        raise ScimError(400, "name must be an object.", "invalidValue")
    if name or replace:
        name = name or {}
        user.first_name = str(name.get("givenName") or "")[:150]
        user.last_name = str(name.get("familyName") or "")[:150]
    if "emails" in data or replace:
        user.email = _primary_email(data.get("emails"))
    if "active" in data:
        return _as_bool(data["active"])
    return True if replace else None


def _external_id(data) -> str | None:
    if "externalId" not in data:
        return None
    value = data.get("externalId") or ""
    if not isinstance(value, str) or len(value) > 500:
        raise ScimError(400, "externalId must be a string.", "invalidValue")
    return value


def save_user(user, data, *, replace: bool, creating: bool = False):
    active = apply_user_attributes(user, data, replace=replace)
    external_id = _external_id(data)
    try:
        with transaction.atomic():
            if creating:
                user.set_unusable_password()
                user.is_active = True
            user.save()
            identity, _created = DirectoryIdentity.objects.get_or_create(
                user=user, defaults={"source": SOURCE}
            )
            if external_id is not None:
                identity.external_id = external_id
                identity.save(update_fields=["external_id"])
    except IntegrityError:
        raise ScimError(
            409, "A user with this userName or externalId exists.", "uniqueness"
        ) from None
    if active is False and user.is_active:
        deactivate(user)
    elif active is True and not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


class UsersView(ScimView):
    FILTERS = {
        "username": "username__iexact",
        "externalid": "directory_identity__external_id",
        "emails.value": "email__iexact",
        'emails[type eq "work"].value': "email__iexact",
        "id": "uuid",
    }

    def get(self, request):
        queryset = _users()
        parsed = parse_filter(request.GET.get("filter", ""), self.FILTERS)
        if parsed:
            lookup, value = parsed
            if lookup == "uuid":
                try:
                    value = uuid.UUID(value)
                except ValueError:
                    queryset = queryset.none()
            if not isinstance(value, str) or queryset.exists():
                queryset = queryset.filter(**{lookup: value})
        return paginate(request, queryset, user_resource)

    def post(self, request):
        data = read_json(request)
        username = data.get("userName")
        if isinstance(username, str) and User.objects.filter(username__iexact=username).exists():
            raise ScimError(409, "A user with this userName exists.", "uniqueness")
        user = save_user(User(), data, replace=True, creating=True)
        resync_roles(user)
        response = scim_response(user_resource(request, get_user(str(user.uuid))), 201)
        response["Location"] = user_resource(request, user)["meta"]["location"]
        return response


class UserView(ScimView):
    def get(self, request, scim_id):
        return scim_response(user_resource(request, get_user(scim_id)))

    def put(self, request, scim_id):
        user = get_user(scim_id)
        save_user(user, read_json(request), replace=True)
        return scim_response(user_resource(request, get_user(scim_id)))

    def patch(self, request, scim_id):
        user = get_user(scim_id)
        data = read_json(request)
        operations = data.get("Operations")
        if not isinstance(operations, list) or not operations:
            raise ScimError(400, "Operations must be a non-empty list.", "invalidSyntax")
        changes: dict = {}
        for op in operations:
            if not isinstance(op, dict):
                raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
            kind = str(op.get("op", "")).lower()
            if kind not in {"add", "replace", "remove"}:
                raise ScimError(400, f"Unsupported op {op.get('op')!r}.", "invalidSyntax")
            path, value = op.get("path"), op.get("value")
            if path is None:
                if not isinstance(value, dict):
                    raise ScimError(400, "A value object is required.", "invalidValue")
                for key, item in value.items():
                    _set_path(changes, key, item)
            elif kind == "remove":
                _set_path(changes, path, None)
            else:
                _set_path(changes, path, value)
        save_user(user, changes, replace=False)
        return scim_response(user_resource(request, get_user(scim_id)))

    def delete(self, request, scim_id):
        # Deactivated, not deleted: their history and audit trail stay.
        deactivate(get_user(scim_id))
        return scim_response({}, 204)


_PATHS = {
    "username": ("userName",),
    "active": ("active",),
    "externalid": ("externalId",),
    "name.givenname": ("name", "givenName"),
    "name.familyname": ("name", "familyName"),
    "displayname": None,
    "name.formatted": None,
    "emails": ("emails",),
    'emails[type eq "work"].value': ("emails",),
    "emails.value": ("emails",),
}


def _set_path(changes: dict, path: str, value) -> None:
    key = str(path).lower()
    if key.startswith(USER_SCHEMA.lower() + ":"):
        key = key[len(USER_SCHEMA) + 1 :]
    if key not in _PATHS:
        raise ScimError(400, f"Unsupported path {path!r}.", "invalidPath")
    target = _PATHS[key]
    if target is None:
        return  # derived from the name: nothing to store
    if target == ("emails",) and isinstance(value, str):
        value = [{"value": value, "primary": True}]
    if len(target) == 2:
        name = changes.setdefault("name", {})
        if not isinstance(name, dict):
            raise ScimError(400, "name must be an object.", "invalidValue")
        name[target[1]] = value
        return
    if target == ("name",) and isinstance(value, dict):
        changes.setdefault("name", {}).update(value)
        return
    changes[target[0]] = value


def resync_roles(user) -> None:
    """Roles from the SCIM groups the user is in, through the mappings."""
    groups = list(user.directory_groups.values_list("display_name", flat=True))
    # No mapped group: no role, so no use of the console until one is mapped.
    with contextlib.suppress(mapping.NoMappedGroup):
        mapping.apply(user, SOURCE, groups)


# --- Groups --------------------------------------------------------------------


def group_resource(request, group) -> dict:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.uuid),
        "externalId": group.external_id or None,
        "displayName": group.display_name,
        "members": [
            {"value": str(u.uuid), "display": u.username, "type": "User"}
            for u in group.members.all()
        ],
        "meta": {
            "resourceType": "Group",
            "created": group.created.isoformat(),
            "lastModified": group.modified.isoformat(),
            "location": request.build_absolute_uri(
                reverse("scim:group", kwargs={"scim_id": group.uuid})
            ),
        },
    }


def _groups():
    return DirectoryGroup.objects.prefetch_related("members").order_by("created", "pk")


def get_group(scim_id: str):
    try:
        key = uuid.UUID(scim_id)
    except ValueError:
        raise ScimError(404, "No such group.") from None
    group = _groups().filter(uuid=key).first()
    if group is None:
        raise ScimError(404, "No such group.")
    return group


def _member_users(values) -> list:
    if not isinstance(values, list):
        raise ScimError(400, "members must be a list.", "invalidValue")
    ids = []
    for item in values:
        value = item.get("value") if isinstance(item, dict) else None
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            raise ScimError(400, "members[].value must be a user id.", "invalidValue") from None
    users = list(_users().filter(uuid__in=ids))
    if len(users) != len(set(ids)):
        raise ScimError(400, "A member is not a provisioned user.", "invalidValue")
    return users


def save_group(group, data, *, replace: bool):
    name = data.get("displayName", group.display_name if not replace else None)
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise ScimError(400, "displayName is required.", "invalidValue")
    old_members = set(group.members.values_list("pk", flat=True)) if group.pk else set()
    group.display_name = name.strip()
    if "externalId" in data:
        group.external_id = str(data.get("externalId") or "")[:255]
    members = _member_users(data.get("members") or []) if ("members" in data or replace) else None
    try:
        with transaction.atomic():
            group.save()
            if members is not None:
                group.members.set(members)
    except IntegrityError:
        raise ScimError(409, "A group with this displayName exists.", "uniqueness") from None
    _resync(old_members | set(group.members.values_list("pk", flat=True)))
    return group


def _resync(user_pks) -> None:
    for user in User.objects.filter(pk__in=user_pks):
        resync_roles(user)


class GroupsView(ScimView):
    FILTERS = {"displayname": "display_name__iexact", "externalid": "external_id"}

    def get(self, request):
        queryset = _groups()
        parsed = parse_filter(request.GET.get("filter", ""), self.FILTERS)
        if parsed:
            queryset = queryset.filter(**{parsed[0]: parsed[1]})
        if request.GET.get("excludedAttributes") == "members":
            return paginate(request, queryset, _without_members)
        return paginate(request, queryset, group_resource)

    def post(self, request):
        group = save_group(DirectoryGroup(), read_json(request), replace=True)
        response = scim_response(group_resource(request, get_group(str(group.uuid))), 201)
        response["Location"] = group_resource(request, group)["meta"]["location"]
        return response


def _without_members(request, group):
    resource = group_resource(request, group)
    resource.pop("members")
    return resource


MEMBER_FILTER = re.compile(r'^members\[value eq "([^"]+)"\]$', re.I)


class GroupView(ScimView):
    def get(self, request, scim_id):
        return scim_response(group_resource(request, get_group(scim_id)))

    def put(self, request, scim_id):
        group = save_group(get_group(scim_id), read_json(request), replace=True)
        return scim_response(group_resource(request, get_group(str(group.uuid))))

    def patch(self, request, scim_id):
        group = get_group(scim_id)
        operations = read_json(request).get("Operations")
        if not isinstance(operations, list) or not operations:
            raise ScimError(400, "Operations must be a non-empty list.", "invalidSyntax")
        members = set(group.members.values_list("pk", flat=True))
        before = set(members)
        data: dict = {}
        for op in operations:
            if not isinstance(op, dict):
                raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
            kind = str(op.get("op", "")).lower()
            path = str(op.get("path") or "")
            value = op.get("value")
            if path.lower() == "members" and kind == "add":
                members |= {u.pk for u in _member_users(value)}
            elif path.lower() == "members" and kind == "replace":
                members = {u.pk for u in _member_users(value)}
            elif path.lower() == "members" and kind == "remove":
                # Okta: value lists members; no value: remove all.
                members -= {u.pk for u in _member_users(value)} if value else members
            elif kind == "remove" and MEMBER_FILTER.match(path):
                gone = _member_users([{"value": MEMBER_FILTER.match(path).group(1)}])
                members -= {u.pk for u in gone}
            elif kind in {"replace", "add"} and path.lower() in {"displayname", "externalid"}:
                data["displayName" if path.lower() == "displayname" else "externalId"] = value
            elif kind == "replace" and not path and isinstance(value, dict):
                data.update({k: v for k, v in value.items() if k in {"displayName", "externalId"}})
                if "members" in value:
                    members = {u.pk for u in _member_users(value["members"])}
            else:
                raise ScimError(
                    400, f"Unsupported operation on {path or 'the group'}.", "invalidPath"
                )
        with transaction.atomic():
            save_group(group, data, replace=False)
            group.members.set(members)
        _resync(before | members)
        return scim_response(group_resource(request, get_group(scim_id)))

    def delete(self, request, scim_id):
        group = get_group(scim_id)
        members = set(group.members.values_list("pk", flat=True))
        group.delete()
        _resync(members)
        return scim_response({}, 204)


# --- Discovery -------------------------------------------------------------------


def _service_provider_config(request):
    return scim_response(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_COUNT},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "A SCIM token from Settings → Directory & SSO.",
                    "primary": True,
                }
            ],
        }
    )


def _resource_types(request):
    types = [
        ("User", "/Users", USER_SCHEMA),
        ("Group", "/Groups", GROUP_SCHEMA),
    ]
    resources = [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": name,
            "name": name,
            "endpoint": endpoint,
            "schema": schema,
        }
        for name, endpoint, schema in types
    ]
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(resources),
            "startIndex": 1,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


def _schemas(request):
    resources = [
        {"id": USER_SCHEMA, "name": "User", "attributes": []},
        {"id": GROUP_SCHEMA, "name": "Group", "attributes": []},
    ]
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": 2,
            "startIndex": 1,
            "itemsPerPage": 2,
            "Resources": resources,
        }
    )


service_provider_config = _function_view(_service_provider_config)
resource_types = _function_view(_resource_types)
schemas = _function_view(_schemas)
