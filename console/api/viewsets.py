from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext_lazy as _
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException, PermissionDenied


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("Other objects still use this one; move or delete them first.")
    default_code = "conflict"


class ScopedModelViewSet(viewsets.ModelViewSet):
    """A model viewset whose queryset goes through the user's scope, looked up
    by public UUID."""

    lookup_field = "uuid"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        action = {
            "GET": "view",
            "HEAD": "view",
            "OPTIONS": "view",
            "POST": "add",
            "PUT": "change",
            "PATCH": "change",
            "DELETE": "delete",
        }.get(self.request.method, "view")
        return super().get_queryset().restrict(self.request.user, action)

    def _save_within_scope(self, serializer, action: str):
        # As on the edit pages: the saved object must still be within what the
        # user may change, or nothing of it is stored.
        with transaction.atomic():
            obj = serializer.save()
            model = type(obj)
            if not model.objects.restrict(self.request.user, action).filter(pk=obj.pk).exists():
                transaction.set_rollback(True)
                raise PermissionDenied(
                    _("These values would put the %(name)s outside the regions you manage.")
                    % {"name": model._meta.verbose_name}
                )

    def perform_create(self, serializer):
        self._save_within_scope(serializer, "add")

    def perform_update(self, serializer):
        self._save_within_scope(serializer, "change")

    def perform_destroy(self, instance):
        # A protected relation (a gateway that tunnels still use) is a 409 with
        # a reason, as on the delete page, never a 500.
        try:
            with transaction.atomic():
                instance.delete()
        except ProtectedError as exc:
            names = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
            raise Conflict(
                _(
                    "%(obj)s is still used by %(count)d other object(s) (%(what)s); "
                    "move or delete them first."
                )
                % {"obj": instance, "count": len(exc.protected_objects), "what": ", ".join(names)}
            ) from None
