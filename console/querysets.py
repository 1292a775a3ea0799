from __future__ import annotations

from django.db import models


class RestrictedQuerySet(models.QuerySet):
    """The one mechanism that limits what a user sees.

    Pages, API viewsets, form dropdowns, exports and live subscriptions all call
    ``Model.objects.restrict(user, action)``. Today it checks the model
    permission; region scopes (identity issue) narrow it here, in one place.
    """

    def restrict(self, user, action: str = "view") -> RestrictedQuerySet:
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        opts = self.model._meta
        if not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
            return self.none()
        return self

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
