"""Region scope: in which regions a user holds a permission.

A role (group) may be limited to some regions; a user may be limited too. For
a permission, the user's regions are the union over the roles that grant it
(a role without regions grants it everywhere; so does a permission given to
the user directly), capped by the user's own regions when they have any.
Superusers are never limited.

``RestrictedQuerySet.restrict`` is the only caller that matters: pages, API,
exports, dropdowns and live subscriptions all go through it.
"""

from __future__ import annotations

from django.contrib.auth.models import Group

ALL_REGIONS = None  # the answer "no limit"


def _cache(user) -> dict:
    # Lives on the user object, so on one request (the session middleware
    # loads a fresh user for each): a role or scope change applies at once.
    return user.__dict__.setdefault("_region_scope_cache", {})


def own_regions(user) -> frozenset[int]:
    cache = _cache(user)
    if "own" not in cache:
        cache["own"] = frozenset(user.regions.values_list("pk", flat=True))
    return cache["own"]


def regions_for(user, perm: str) -> frozenset[int] | None:
    """Region pks where ``user`` holds ``perm`` ("app.codename"), or
    ``ALL_REGIONS``. Call only after ``user.has_perm(perm)`` said yes."""
    if user.is_superuser:
        return ALL_REGIONS
    cache = _cache(user)
    if perm in cache:
        return cache[perm]

    granted: frozenset[int] | None
    if perm in user.get_user_permissions():
        granted = ALL_REGIONS
    else:
        app_label, codename = perm.split(".", 1)
        rows = Group.objects.filter(
            user=user,
            permissions__codename=codename,
            permissions__content_type__app_label=app_label,
        ).values_list("role__regions", flat=True)
        regions = set(rows)
        # A group without a role, or a role without regions, gives a NULL row.
        granted = ALL_REGIONS if None in regions else frozenset(regions)

    own = own_regions(user)
    if own:
        granted = own if granted is None else granted & own
    cache[perm] = granted
    return granted


def is_limited(user) -> bool:
    """Whether any region limit applies to this user at all (for pages that
    say so)."""
    if user.is_superuser:
        return False
    if own_regions(user):
        return True
    return Group.objects.filter(user=user, role__regions__isnull=False).exists()
