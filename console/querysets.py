from __future__ import annotations

from django.db import models
from django.db.models import Q


def scope_filter(model, lookups, regions, any_path: bool) -> Q:
    """The condition "in these regions" over ``lookups``: any of them (to
    see) or all of them, an empty optional one excepted (to change)."""
    condition = Q()
    for lookup in lookups:
        term = Q(**{f"{lookup}__in": regions})
        if any_path:
            condition |= term
        else:
            first = lookup.split("__", 1)[0]
            if first != "pk" and getattr(model._meta.get_field(first), "null", False):
                term |= Q(**{f"{first}__isnull": True})
            condition &= term
    return condition


class RestrictedQuerySet(models.QuerySet):
    """The one mechanism that limits what a user sees.

    Pages, API viewsets, form dropdowns, exports and live subscriptions all call
    ``Model.objects.restrict(user, action)``: the user needs the model
    permission for ``action``, and for a model that declares
    ``scope_lookups`` (paths to a region) only rows in the regions where the
    user holds that permission are kept (``accounts.scope``).

    A row with several paths (a tunnel has two gateways) can be *seen* when
    any of them is in scope, but changed only when all of them are (an empty
    optional end, such as a tunnel to a remote site, does not count).
    """

    def restrict(self, user, action: str = "view") -> RestrictedQuerySet:
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        opts = self.model._meta
        perm = f"{opts.app_label}.{action}_{opts.model_name}"
        if not user.has_perm(perm):
            return self.none()
        lookups = getattr(self.model, "scope_lookups", ())
        if not lookups:
            return self
        from accounts.scope import regions_for

        regions = regions_for(user, perm)
        if regions is None:
            return self
        if not regions:
            return self.none()
        return self.filter(scope_filter(self.model, lookups, regions, any_path=action == "view"))

    def count_by(self, field: str, choices, styles) -> list[dict]:
        """One entry per choice of ``field``, in the choices' order, with its
        count (one GROUP BY query) and its style from the app's choices.py."""
        counts = dict(self.values_list(field).annotate(n=models.Count("pk")).order_by())
        return [
            {
                "value": choice.value,
                "label": choice.label,
                "count": counts.get(choice.value, 0),
                "style": styles[choice],
            }
            for choice in choices
        ]
