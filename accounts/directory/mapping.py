"""Directory groups → roles and regions, the same for every source.

``resolve`` says what a list of directory groups gives; ``apply`` makes a
user's roles and regions exactly that (adding and removing), at every
sign-in and every provisioning call. A user whose groups match no mapping
gets nothing: ``NoMappedGroup`` carries the message they are shown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

NO_ACCESS_MESSAGE = _(
    "Your directory account is not in any group that gives access to the console. "
    "Ask your administrator to add you to one."
)


class NoMappedGroup(Exception):
    """The user's directory groups match no mapping: no access."""

    message = NO_ACCESS_MESSAGE


@dataclass
class Grant:
    """What a set of directory groups gives."""

    roles: list = field(default_factory=list)
    # None: no region limit (some matched mapping has none); else region pks.
    regions: set[int] | None = None
    region_objects: list = field(default_factory=list)
    mappings: list = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.roles


def normalise_groups(groups: Iterable) -> list[str]:
    """Group names as strings, stripped, without duplicates (case-insensitive),
    in a stable order."""
    seen: dict[str, str] = {}
    for group in groups or ():
        if isinstance(group, bytes):
            group = group.decode("utf-8", "replace")
        text = str(group).strip()
        if text and text.lower() not in seen:
            seen[text.lower()] = text
    return sorted(seen.values(), key=str.lower)


def resolve(source: str, groups: Iterable) -> Grant:
    """The roles and regions ``groups`` give when they come from ``source``.

    Two queries whatever the number of groups: the matching mappings with
    their roles, and their regions.
    """
    from django.db.models import Q
    from django.db.models.functions import Lower

    from accounts.models import GroupMapping

    names = {g.lower() for g in normalise_groups(groups)}
    grant = Grant()
    if not names:
        return grant
    mappings = list(
        GroupMapping.objects.annotate(group_lower=Lower("group"))
        .filter(group_lower__in=names)
        .filter(Q(source="") | Q(source=source))
        .select_related("role__group")
        .prefetch_related("regions")
        .order_by("group", "pk")
    )
    grant.mappings = mappings
    roles: dict[int, object] = {}
    regions: set[int] | None = set()
    region_objects: dict[int, object] = {}
    for mapping in mappings:
        roles.setdefault(mapping.role.pk, mapping.role)
        mapped = list(mapping.regions.all())
        if not mapped:
            regions = None
        elif regions is not None:
            for region in mapped:
                regions.add(region.pk)
                region_objects[region.pk] = region
    grant.roles = sorted(roles.values(), key=lambda r: r.group.name.lower())
    grant.regions = regions if grant.roles else set()
    grant.region_objects = (
        sorted(region_objects.values(), key=lambda r: r.name.lower()) if regions else []
    )
    return grant


def apply(user, source: str, groups: Iterable, external_id: str | None = None) -> Grant:
    """Make ``user``'s roles and regions what ``groups`` give and remember
    the groups on their directory identity. Raises ``NoMappedGroup`` (after
    removing every role) when the groups give nothing."""
    groups = normalise_groups(groups)
    with transaction.atomic():
        grant = _apply(user, source, groups, external_id)
    # Caches of the old answers on this user object (accounts.scope, MFA).
    for cache in (
        "_region_scope_cache",
        "_mfa_cache",
        "_perm_cache",
        "_group_perm_cache",
        "_user_perm_cache",
    ):
        user.__dict__.pop(cache, None)
    if grant.empty:
        # After the commit: the roles are removed even though access is refused.
        raise NoMappedGroup
    return grant


def _apply(user, source: str, groups: list[str], external_id: str | None) -> Grant:
    from accounts.models import DirectoryIdentity

    grant = resolve(source, groups)
    identity, _created = DirectoryIdentity.objects.get_or_create(
        user=user, defaults={"source": source}
    )
    identity.source = source
    identity.groups = groups
    identity.last_synced = timezone.now()
    if external_id is not None:
        identity.external_id = external_id
    identity.save()

    wanted = {role.group_id for role in grant.roles}
    current = set(user.groups.values_list("pk", flat=True))
    if wanted != current:
        user.groups.set(wanted)
        logger.info(
            "Directory roles of %s changed",
            user.get_username(),
            extra={"added": sorted(wanted - current), "removed": sorted(current - wanted)},
        )
    wanted_regions = set(grant.regions or ())
    if wanted_regions != set(user.regions.values_list("pk", flat=True)):
        user.regions.set(wanted_regions)
    return grant


def is_directory_user(user) -> bool:
    from accounts.models import DirectoryIdentity

    return DirectoryIdentity.objects.filter(user=user).exists()
