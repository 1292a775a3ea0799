"""REST endpoints of API authentication: JWT obtain / refresh / revoke and
each user's own API keys (docs/api.md)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings

from accounts.api_auth.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeySerializer,
    RefreshSerializer,
    RevokeSerializer,
    TokenObtainSerializer,
)
from accounts.api_auth.throttling import IpRateThrottle, TokenRateThrottle
from accounts.api_auth.tokens import revoke_user_tokens
from accounts.models.api_keys import ApiKey

TAG = ["auth"]
ERRORS = {
    400: OpenApiResponse(description=_("Invalid input; the answer names each field.")),
    401: OpenApiResponse(description=_("Wrong credentials, or the token is not valid.")),
    429: OpenApiResponse(description=_("Too many attempts; see Retry-After.")),
}


class _TokenView(APIView):
    # The body is the credential: no other authentication, open to anyone,
    # throttled per client IP.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [IpRateThrottle, TokenRateThrottle]
    serializer_class: type

    def get_authenticate_header(self, request):
        # Wrong credentials are 401 (DRF answers 403 when no class names a scheme).
        return 'Bearer realm="api"'

    def post(self, request):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, headers={"Cache-Control": "no-store"})


@extend_schema(
    tags=TAG,
    summary="Obtain a JWT pair",
    description=(
        "Sign in with username and password, plus `otp` (the current code) when the "
        "account has a second factor. Answers a short-lived access token and a refresh "
        "token. An account that must use a second factor but has none set up is "
        "refused (403) until it sets one up in the console."
    ),
    responses={
        200: TokenObtainSerializer,
        **ERRORS,
        403: OpenApiResponse(description=_("A second factor must be set up first.")),
    },
)
class TokenObtainView(_TokenView):
    serializer_class = TokenObtainSerializer


@extend_schema(
    tags=TAG,
    summary="Refresh a JWT pair",
    description=(
        "Exchange a refresh token for a new access token and a new refresh token. "
        "Each refresh token works once: the one sent is revoked."
    ),
    responses={200: RefreshSerializer, **ERRORS},
)
class TokenRefreshView(_TokenView):
    serializer_class = RefreshSerializer


@extend_schema(
    tags=TAG,
    summary="Revoke JWTs",
    description=(
        "Revoke this refresh token, or with `all` every token of its user (their "
        "access tokens stop working too)."
    ),
    request=RevokeSerializer,
    responses={204: OpenApiResponse(description=_("Revoked.")), **ERRORS},
)
class TokenRevokeView(_TokenView):
    serializer_class = RevokeSerializer

    def post(self, request):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token = serializer.validated_data["token"]
        if serializer.validated_data["all"]:
            user = (
                get_user_model()
                .objects.filter(
                    **{api_settings.USER_ID_FIELD: token.get(api_settings.USER_ID_CLAIM)}
                )
                .first()
            )
            if user is not None:
                revoke_user_tokens(user)
        token.blacklist()
        return Response(status=status.HTTP_204_NO_CONTENT)


class KeyScopeAllows(BasePermission):
    """Own API keys are the accounts domain: a key needs accounts read to
    list them and accounts write to revoke one."""

    message = _("This API key's scopes do not allow it.")

    def has_permission(self, request, view) -> bool:
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        if api_key is None:
            return True
        return api_key.allows("accounts", "view" if request.method in SAFE_METHODS else "change")


@extend_schema_view(
    list=extend_schema(summary="Your API keys", description="Revoked and expired ones included."),
    retrieve=extend_schema(summary="One of your API keys"),
    create=extend_schema(
        summary="Create an API key",
        description=(
            "The answer holds the key (`key`) — the only time it is shown. A key acts "
            "as you, within its scopes. Not possible with an API key: sign in or use a JWT."
        ),
        responses={201: ApiKeyCreatedSerializer},
    ),
    destroy=extend_schema(
        summary="Revoke an API key",
        description="The key stops working at once; it stays listed as revoked.",
    ),
)
class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Each user's own API keys; an admin manages service accounts' keys in
    Settings → Service accounts & API keys."""

    serializer_class = ApiKeySerializer
    permission_classes = [IsAuthenticated, KeyScopeAllows]
    lookup_field = "uuid"
    lookup_value_converter = "uuid"
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ApiKey.objects.none()
        return ApiKey.objects.filter(owner=self.request.user).select_related("owner")

    def get_serializer_class(self):
        return ApiKeyCreatedSerializer if self.action == "create" else ApiKeySerializer

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"  # it holds the key
        return response

    def perform_create(self, serializer):
        if isinstance(self.request.auth, ApiKey):
            # A key must not mint keys (nor outlive or outgrow itself that way).
            raise PermissionDenied(_("Create API keys signed in or with a JWT, not with a key."))
        serializer.save()

    def perform_destroy(self, instance):
        instance.revoke()
