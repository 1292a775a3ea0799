"""Settings → Directory & SSO (docs/directory.md); included by accounts/urls.py."""

from django.urls import path

from accounts.directory import views

urlpatterns = [
    path("settings/directory/", views.DirectoryView.as_view(), name="directory"),
    path(
        "settings/directory/sso-only/", views.SsoOnlyRolesView.as_view(), name="directory_sso_only"
    ),
    path(
        "settings/directory/scim-tokens/add/",
        views.ScimTokenAddView.as_view(),
        name="scim_token_add",
    ),
    path(
        "settings/directory/scim-tokens/<uuid:uuid>/revoke/",
        views.ScimTokenRevokeView.as_view(),
        name="scim_token_revoke",
    ),
    path(
        "settings/directory/mappings/",
        views.GroupMappingListView.as_view(),
        name="groupmapping_list",
    ),
    path(
        "settings/directory/mappings/add/",
        views.GroupMappingEditView.as_view(),
        name="groupmapping_add",
    ),
    path(
        "settings/directory/mappings/preview/",
        views.GroupMappingPreviewView.as_view(),
        name="groupmapping_preview",
    ),
    path(
        "settings/directory/mappings/<uuid:uuid>/",
        views.GroupMappingDetailView.as_view(),
        name="groupmapping_detail",
    ),
    path(
        "settings/directory/mappings/<uuid:uuid>/edit/",
        views.GroupMappingEditView.as_view(),
        name="groupmapping_edit",
    ),
    path(
        "settings/directory/mappings/<uuid:uuid>/delete/",
        views.GroupMappingDeleteView.as_view(),
        name="groupmapping_delete",
    ),
]
