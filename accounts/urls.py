"""Accounts pages: users and roles (Settings), and each user's own security
(Your account). Each concern keeps its views in its own module."""

from django.urls import include, path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("settings/users/", views.UserListView.as_view(), name="user_list"),
    path("settings/users/invite/", views.UserInviteView.as_view(), name="user_add"),
    path("settings/users/<uuid:uuid>/", views.UserDetailView.as_view(), name="user_detail"),
    path("settings/users/<uuid:uuid>/edit/", views.UserEditView.as_view(), name="user_edit"),
    path(
        "settings/users/<uuid:uuid>/invite/",
        views.UserResendInvitationView.as_view(),
        name="user_resend_invitation",
    ),
    path(
        "settings/users/<uuid:uuid>/reset-mfa/",
        views.UserResetMfaView.as_view(),
        name="user_reset_mfa",
    ),
    path(
        "settings/users/<uuid:uuid>/sign-out/",
        views.UserSignOutView.as_view(),
        name="user_sign_out",
    ),
    path(
        "settings/users/<uuid:uuid>/deactivate/",
        views.UserDeactivateView.as_view(),
        name="user_deactivate",
    ),
    path(
        "settings/users/<uuid:uuid>/activate/",
        views.UserActivateView.as_view(),
        name="user_activate",
    ),
    path("settings/roles/", views.RoleListView.as_view(), name="role_list"),
    path("settings/roles/add/", views.RoleEditView.as_view(), name="role_add"),
    path("settings/roles/<uuid:uuid>/", views.RoleDetailView.as_view(), name="role_detail"),
    path("settings/roles/<uuid:uuid>/edit/", views.RoleEditView.as_view(), name="role_edit"),
    path("settings/roles/<uuid:uuid>/delete/", views.RoleDeleteView.as_view(), name="role_delete"),
    path(
        "invitation/<str:token>/",
        views.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
    # Your account → Two-factor authentication (accounts/mfa, docs/mfa.md).
    path("account/mfa/", include("accounts.mfa.urls")),
    # API keys and service accounts (accounts/api_auth, docs/api.md).
    path("", include("accounts.api_auth.page_urls")),
    # Directory & SSO: LDAP, SSO providers, SCIM tokens, group mappings (docs/directory.md).
    path("", include("accounts.directory.urls")),
]
