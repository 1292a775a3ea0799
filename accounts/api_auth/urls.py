"""REST routes of API authentication, under /api/v1/auth/ (included by
console/api/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api_auth import views

router = SimpleRouter()
router.register("auth/keys", views.ApiKeyViewSet, basename="apikey")

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    *router.urls,
]
