from django.urls import path

from security import views

app_name = "security"

urlpatterns = [
    path("settings/sessions/", views.session_policy, name="session_policy"),
    path("settings/allowlist/", views.allowlist_list, name="allowlistentry_list"),
    path("settings/allowlist/add/", views.allowlist_edit, name="allowlistentry_add"),
    path("settings/allowlist/<uuid:uuid>/edit/", views.allowlist_edit, name="allowlistentry_edit"),
    path(
        "settings/allowlist/<uuid:uuid>/delete/",
        views.allowlist_delete,
        name="allowlistentry_delete",
    ),
    path("account/sessions/", views.my_sessions, name="my_sessions"),
    path(
        "account/sessions/sign-out-others/",
        views.revoke_other_sessions,
        name="session_revoke_others",
    ),
    path("account/sessions/<uuid:uuid>/sign-out/", views.revoke_session, name="session_revoke"),
]
