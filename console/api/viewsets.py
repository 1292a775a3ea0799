from rest_framework import viewsets


class ScopedModelViewSet(viewsets.ModelViewSet):
    """A model viewset whose queryset goes through the user's scope, looked up
    by public UUID."""

    lookup_field = "uuid"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        action = {
            "GET": "view", "HEAD": "view", "OPTIONS": "view",
            "POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete",
        }.get(self.request.method, "view")
        return super().get_queryset().restrict(self.request.user, action)
