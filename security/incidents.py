"""What people do to an incident: status, assignee, notes. Shared by the pages
(security.views_incidents) and the API (security.api); each change is one
transaction that also writes the incident's timeline and tells live pages.

Correlation writes its own entries (security.correlation); containment writes
``containment`` / ``containment_lifted`` entries (security.containment).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from security.choices import ActivityKind, IncidentStatus
from security.models import Incident, IncidentActivity

NOTE_MAX_LENGTH = 5000


def assignable_users(incident: Incident | None = None):
    """Who an incident may be given to: active users who may change
    incidents (Operators, Admins, custom roles with the permission). Their
    region scope is checked again when they open it."""
    from django.db.models import Q

    # Lazy (no query until used): serializers build this at import time of
    # the schema, e.g. in ``manage.py check``, where no database may answer.
    through_groups = Q(
        groups__permissions__content_type__app_label="security",
        groups__permissions__codename="change_incident",
    )
    direct = Q(
        user_permissions__content_type__app_label="security",
        user_permissions__codename="change_incident",
    )
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | through_groups | direct)
        .distinct()
        .order_by("username")
    )


def _publish(incident: Incident) -> None:
    from security import live as security_live

    security_live.publish_incidents(changed=[incident.pk])


def set_status(incident: Incident, status: str, actor, note: str = "") -> bool:
    """Move ``incident`` to ``status``; False when it already was there."""
    if status not in IncidentStatus.values:
        raise ValueError(status)
    if incident.status == status:
        return False
    with transaction.atomic():
        old = incident.status
        incident.status = status
        incident.save(update_fields=["status", "updated"])
        text = _("Status changed from %(old)s to %(new)s.") % {
            "old": IncidentStatus(old).label,
            "new": IncidentStatus(status).label,
        }
        if note:
            text = f"{text} {note}"
        IncidentActivity.objects.create(
            incident=incident,
            kind=ActivityKind.STATUS,
            actor=actor,
            text=text,
            data={"from": old, "to": status},
        )
        _publish(incident)
    return True


def set_assignee(incident: Incident, assignee, actor) -> bool:
    """Give ``incident`` to ``assignee`` (None: to nobody); False when unchanged."""
    if incident.assignee_id == (assignee.pk if assignee else None):
        return False
    with transaction.atomic():
        old = incident.assignee
        incident.assignee = assignee
        incident.save(update_fields=["assignee", "updated"])
        if assignee is None:
            text = _("Unassigned (was %(old)s).") % {"old": old}
        elif old is None:
            text = _("Assigned to %(new)s.") % {"new": assignee}
        else:
            text = _("Reassigned from %(old)s to %(new)s.") % {"old": old, "new": assignee}
        IncidentActivity.objects.create(
            incident=incident,
            kind=ActivityKind.ASSIGNEE,
            actor=actor,
            text=text,
            data={
                "from": old.get_username() if old else None,
                "to": assignee.get_username() if assignee else None,
            },
        )
        _publish(incident)
    return True


def add_note(incident: Incident, text: str, actor, token=None) -> tuple[IncidentActivity, bool]:
    """Add a note; with ``token`` (the form's, or the API's Idempotency-Key) a
    repeated request finds the note it added before: (note, created)."""
    text = text.strip()
    if not text:
        raise ValueError("empty note")
    data = {"token": str(token)} if token else {}
    with transaction.atomic():
        if token:
            Incident.objects.select_for_update().filter(pk=incident.pk).first()
            earlier = IncidentActivity.objects.filter(
                incident=incident, kind=ActivityKind.NOTE, data__token=str(token)
            ).first()
            if earlier is not None:
                return earlier, False
        activity = IncidentActivity.objects.create(
            incident=incident,
            kind=ActivityKind.NOTE,
            actor=actor,
            text=text[:NOTE_MAX_LENGTH],
            data=data,
        )
        Incident.objects.filter(pk=incident.pk).update(updated=activity.at)
        _publish(incident)
    return activity, True
