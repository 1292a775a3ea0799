"""The audit log on other pages: an object's "History" and a user's "recent
actions" (templates/audit/partials/history.html, recent_actions.html), one
query each whatever the page shows."""

from __future__ import annotations

import json

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from audit.models import AuditRecord
from audit.registry import describe

register = template.Library()

HISTORY_SIZE = 10
RECENT_SIZE = 8
VIEW = "audit.view_auditrecord"


@register.simple_tag(takes_context=True)
def audit_history(context, obj, size: int = HISTORY_SIZE):
    """The newest records about ``obj``. Whoever may see the object's page
    (its region scope decides) sees its history; opening a record or the
    whole log needs the audit permission."""
    request = context.get("request")
    if obj is None or request is None or not getattr(obj, "pk", None):
        return None
    object_type, object_id, _name = describe(obj)
    records = list(
        AuditRecord.objects.filter(object_type=object_type, object_id=object_id).order_by("-id")[
            :size
        ]
    )
    can_open = request.user.has_perm(VIEW)
    more_url = None
    if can_open:
        query = urlencode({"object_type": object_type, "object_id": object_id})
        more_url = f"{reverse('audit:record_list')}?{query}"
    return {"records": records, "can_open": can_open, "more_url": more_url}


@register.simple_tag
def recent_actions(user, size: int = RECENT_SIZE):
    """What ``user`` did lately (themselves or through their API keys)."""
    if user is None or not user.is_authenticated:
        return {"records": []}
    records = list(AuditRecord.objects.filter(actor_user_id=user.pk).order_by("-id")[:size])
    can_open = user.has_perm(VIEW)
    more_url = None
    if can_open:
        more_url = f"{reverse('audit:record_list')}?{urlencode({'user': str(user.uuid)})}"
    return {"records": records, "can_open": can_open, "more_url": more_url}


@register.filter
def changed_fields(changes) -> str:
    return ", ".join(sorted(changes)) if isinstance(changes, dict) else ""


@register.filter
def is_structured(value) -> bool:
    return isinstance(value, dict | list)


@register.filter
def as_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
