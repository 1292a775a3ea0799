"""Writing records: ``record()`` (the public API, ``audit.record``) and the
generic model auditing (snapshot when loaded, diff after save).

Cost per audited save: one INSERT, in the caller's transaction, plus one
seal per transaction after it commits (audit/chain.py). The "before" state
is what the instance held when it was loaded (``post_init``), so no query
reads it back; a related object's name is looked up only when that foreign
key changed.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import ipaddress
import json
import logging
import uuid

from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from audit import context as audit_context
from audit.chain import schedule_seal
from audit.choices import ActorType, Outcome
from audit.context import ANONYMOUS, Actor
from audit.models import AuditRecord
from audit.registry import (
    IGNORED_FIELDS,
    describe,
    is_audited,
    options_for,
    quiet_fields,
    scrub,
    scrub_changes,
)

logger = logging.getLogger("audit")

SNAPSHOT = "_audit_snapshot"
_DEFERRED = object()


def jsonable(value):
    """A field value as JSON (what is stored and hashed)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network):
        return str(value)
    if isinstance(value, ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def _normalise(value):
    # Exactly what the JSON column gives back, so the hash computed at sealing
    # (from the stored row) matches what was meant.
    return json.loads(json.dumps(jsonable(value)))


# --- the public API ------------------------------------------------------------


def record(
    action: str,
    obj=None,
    *,
    actor: Actor | object | None = None,
    changes: dict | None = None,
    detail: dict | None = None,
    outcome: str = Outcome.SUCCESS,
    object_type: str = "",
    object_id: str = "",
    object_name: str = "",
    request=None,
) -> AuditRecord:
    """Record ``action`` (e.g. "policy.publish") on ``obj`` in the current
    transaction. The actor, IP, user agent and request id come from the
    current request or task unless given (``actor`` may be a User or an
    ``audit.context.Actor``). ``changes``: {field: [before, after]};
    ``detail``: anything else worth keeping. Secrets are masked by name."""
    if obj is not None:
        object_type, object_id, object_name = describe(obj)
    ctx = audit_context.current()
    request = request if request is not None else ctx.request
    if actor is None:
        actor = ctx.actor or (audit_context.actor_of(request) if request is not None else ANONYMOUS)
    elif not isinstance(actor, Actor):
        actor = Actor.for_user(actor)
    meta = audit_context.request_metadata(request)
    if ctx.request_id and not meta["request_id"]:
        meta["request_id"] = ctx.request_id
    source = audit_context.source_of(request) if request is not None else ctx.source
    if ctx.actor is not None:
        source = ctx.source
    entry = AuditRecord.objects.create(
        time=timezone.now(),
        actor_type=actor.type,
        actor_id=actor.id[:255],
        actor_name=actor.name[:255],
        actor_user_id=getattr(actor.user, "pk", None),
        action=action[:64],
        object_type=object_type[:100],
        object_id=str(object_id)[:64],
        object_name=str(object_name)[:255],
        changes=_normalise(scrub_changes(changes or {})),
        detail=_normalise(scrub(detail or {})),
        source=source,
        outcome=outcome,
        **meta,
    )
    schedule_seal()
    return entry


# --- generic model auditing ------------------------------------------------------


def _fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.name not in IGNORED_FIELDS]


def take_snapshot(sender, instance, **kwargs) -> None:
    """post_init: what the instance holds when loaded (or created)."""
    state = {}
    values = instance.__dict__
    for f in sender._meta.concrete_fields:
        value = values.get(f.attname, _DEFERRED)
        state[f.attname] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    instance.__dict__[SNAPSHOT] = state


def _display(f: models.Field, instance, value):
    """A stored value as shown in a diff: a foreign key as its object's name."""
    if value is None:
        return None
    if f.is_relation and f.many_to_one:
        cached = f.get_cached_value(instance, None) if f.is_cached(instance) else None
        if cached is not None and cached.pk == value:
            return str(cached)
        related = f.related_model._default_manager.filter(pk=value).first()
        return str(related) if related is not None else f"#{value}"
    if f.choices:
        return value  # the stored value; pages show the label
    return jsonable(value)


def diff(instance, event: str) -> dict:
    model = type(instance)
    before = instance.__dict__.get(SNAPSHOT) or {}
    changes = {}
    for f in _fields(model):
        now = instance.__dict__.get(f.attname, _DEFERRED)
        if event == "create":
            if now in (None, "", _DEFERRED) or f.name == "uuid":
                continue
            changes[f.name] = [None, _display(f, instance, now)]
        elif event == "delete":
            if now in (None, "", _DEFERRED) or f.name == "uuid":
                continue
            changes[f.name] = [_display(f, instance, now), None]
        else:
            old = before.get(f.attname, _DEFERRED)
            if old is _DEFERRED or now is _DEFERRED or old == now:
                continue
            changes[f.name] = [_display(f, instance, old), _display(f, instance, now)]
    return changes


def _actor_for(instance) -> Actor | None:
    """Who acts when nobody is signed in: a gateway enrolling, a JWT's user."""
    ctx = audit_context.current()
    if ctx.actor is not None or ctx.request is None:
        return None
    actor = audit_context.actor_of(ctx.request)
    if actor.type != ActorType.ANONYMOUS:
        return actor
    from gateways.models import Gateway

    if isinstance(instance, Gateway) and ctx.source == "agent":
        return Actor(ActorType.GATEWAY, str(instance.uuid), f"gateway {instance.name}")
    acting_user = options_for(type(instance)).acting_user
    if acting_user is not None:
        user = acting_user(instance)
        if user is not None:
            return Actor.for_user(user)
    return None


def _record_model_event(instance, event: str) -> None:
    model = type(instance)
    changes = diff(instance, event)
    if event == "update" and (not changes or set(changes) <= quiet_fields(model)):
        return
    opts = options_for(model)
    action = (opts.action(changes, event) if opts.action else None) or event
    record(action, instance, actor=_actor_for(instance), changes=changes)


def on_post_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:  # loaddata: fixtures, not actions
        return
    _record_model_event(instance, "create" if created else "update")
    take_snapshot(sender, instance)  # the next save of this instance diffs from here


def on_post_delete(sender, instance, **kwargs) -> None:
    _record_model_event(instance, "delete")


def _names(model, pks) -> list[str]:
    return sorted(str(obj) for obj in model._default_manager.filter(pk__in=pks))


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """Additions to and removals from a many-to-many field (roles, regions,
    permissions, tags), recorded on the object that holds the field."""
    if action not in ("post_add", "post_remove", "pre_clear", "post_clear"):
        return
    owner_model = type(instance)
    if not is_audited(owner_model) or owner_model.__module__ == "__fake__":
        return
    field_name = _m2m_field_name(owner_model, sender, reverse)
    if action == "pre_clear":
        manager = getattr(instance, field_name, None)
        instance.__dict__[f"_audit_clear_{field_name}"] = (
            list(manager.values_list("pk", flat=True)) if manager is not None else []
        )
        return
    if action == "post_clear":
        pk_set = instance.__dict__.pop(f"_audit_clear_{field_name}", [])
    if not pk_set:
        return
    names = _names(model, pk_set)
    change = {"added": names} if action == "post_add" else {"removed": names}
    opts = options_for(owner_model)
    record(
        opts.m2m_actions.get(field_name, "update"),
        instance,
        actor=_actor_for(instance),
        changes={field_name: change},
    )


def _m2m_field_name(model, through, reverse: bool) -> str:
    """The field of ``model`` that changed: its own many-to-many field, or
    (``reverse``: region.scoped_users.add(…)) the reverse accessor."""
    for f in model._meta.get_fields(include_hidden=True):
        if not f.many_to_many:
            continue
        if f.auto_created:
            if reverse and getattr(f, "through", None) is through:
                return f.get_accessor_name()
        elif not reverse and f.remote_field.through is through:
            return f.name
    return through._meta.model_name
