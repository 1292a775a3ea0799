"""Close a user's live sockets when what they may see changes.

A tab subscribed at connect to the groups of its user's role and region scope
(console/consumers.py). When a role, a scope or the account itself changes, the
subscriptions may be wrong, so every open socket of the affected users is
closed with ``CLOSE_ACCESS_CHANGED``; the page reloads and subscribes again
(or lands on the sign-in page). Sign-out and revoked sessions are closed by
security/sessions.py.

Changes that count: the user's roles (``User.groups``), own regions
(``User.regions``), direct permissions, ``is_active`` / ``is_superuser``, the
user's deletion; a role's regions (``Role.regions``) or permissions
(``Group.permissions``), and a role's deletion — for all its members.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from accounts.models import Role, User
from console import live

log = logging.getLogger(__name__)

ACCESS_CHANGED = "access.changed"
_CHANGES = {"post_add", "post_remove", "post_clear", "pre_clear"}
# Fields of a user row that change what the user may see.
_ACCESS_FIELDS = ("is_active", "is_superuser")


def close_sockets_after_commit(user_ids) -> None:
    user_ids = sorted(set(user_ids))
    if user_ids:
        transaction.on_commit(lambda: _close_sockets(user_ids))


def _close_sockets(user_ids: list[int]) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        for user_id in user_ids:
            await layer.group_send(live.user_group(user_id), {"type": ACCESS_CHANGED})

    try:
        async_to_sync(send)()
    except Exception:  # the change is made; a tab left open keeps its old view until it reloads
        log.warning("could not close the live sockets of users %s", user_ids, exc_info=True)


def _members(group_pks) -> list[int]:
    return list(User.objects.filter(groups__in=list(group_pks)).values_list("pk", flat=True))


def _user_m2m_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """User.groups, User.regions and User.user_permissions, from either side."""
    if action not in _CHANGES:
        return
    if action == "pre_clear" and not reverse:
        close_sockets_after_commit([instance.pk])
        return
    if action == "pre_clear":  # a group or region cleared of its users
        if sender is User.groups.through:
            close_sockets_after_commit(_members([instance.pk]))
        elif sender is User.regions.through:
            close_sockets_after_commit(instance.scoped_users.values_list("pk", flat=True))
        return
    if action == "post_clear":
        return
    # From the user's side the user changed; from the other side, the users added or removed.
    close_sockets_after_commit([instance.pk] if not reverse else (pk_set or ()))


def _group_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A role's permissions changed: all its members."""
    if action not in _CHANGES or action == "post_clear":
        return
    groups = [instance.pk] if not reverse else list(pk_set or ())
    if reverse and action == "pre_clear":
        groups = list(instance.group_set.values_list("pk", flat=True))
    close_sockets_after_commit(_members(groups))


def _role_regions_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in _CHANGES or action == "post_clear":
        return
    if not reverse:
        close_sockets_after_commit(_members([instance.group_id]))
    else:  # a region's roles changed
        groups = Role.objects.filter(pk__in=pk_set or ()).values_list("group_id", flat=True)
        if action == "pre_clear":
            groups = instance.roles.values_list("group_id", flat=True)
        close_sockets_after_commit(_members(groups))


def _user_saving(sender, instance, update_fields=None, **kwargs) -> None:
    """Note whether is_active or is_superuser changes (a login's save of
    ``last_login`` and preference saves name their fields and cost nothing)."""
    if instance.pk is None or (
        update_fields is not None and not set(update_fields) & set(_ACCESS_FIELDS)
    ):
        return
    stored = User.objects.filter(pk=instance.pk).values(*_ACCESS_FIELDS).first()
    if stored and any(stored[name] != getattr(instance, name) for name in _ACCESS_FIELDS):
        instance._live_access_changed = True


def _user_saved(sender, instance, created, **kwargs) -> None:
    if instance.__dict__.pop("_live_access_changed", False):
        close_sockets_after_commit([instance.pk])


def _user_deleted(sender, instance, **kwargs) -> None:
    close_sockets_after_commit([instance.pk])


def _group_deleting(sender, instance, **kwargs) -> None:
    close_sockets_after_commit(_members([instance.pk]))


for _through in (User.groups.through, User.regions.through, User.user_permissions.through):
    m2m_changed.connect(
        _user_m2m_changed, sender=_through, dispatch_uid=f"live-{_through.__name__}"
    )
m2m_changed.connect(
    _group_permissions_changed, sender=Group.permissions.through, dispatch_uid="live-group-perms"
)
m2m_changed.connect(
    _role_regions_changed, sender=Role.regions.through, dispatch_uid="live-role-regions"
)
pre_save.connect(_user_saving, sender=User, dispatch_uid="live-user-saving")
post_save.connect(_user_saved, sender=User, dispatch_uid="live-user-saved")
post_delete.connect(_user_deleted, sender=User, dispatch_uid="live-user-deleted")
pre_delete.connect(_group_deleting, sender=Group, dispatch_uid="live-group-deleting")
