from django.urls import path

from gateways import views

app_name = "gateways"

urlpatterns = [
    path("gateways/", views.GatewayListView.as_view(), name="gateway_list"),
    path("gateways/add/", views.GatewayEditView.as_view(), name="gateway_add"),
    path("gateways/<uuid:uuid>/", views.GatewayDetailView.as_view(), name="gateway_detail"),
    path("gateways/<uuid:uuid>/edit/", views.GatewayEditView.as_view(), name="gateway_edit"),
    path("gateways/<uuid:uuid>/delete/", views.GatewayDeleteView.as_view(), name="gateway_delete"),
    path(
        "gateways/<uuid:uuid>/agent/issue-token/",
        views.GatewayIssueTokenView.as_view(),
        name="gateway_issue_token",
    ),
    path(
        "gateways/<uuid:uuid>/agent/revoke-token/",
        views.GatewayRevokeTokenView.as_view(),
        name="gateway_revoke_token",
    ),
    path(
        "gateways/<uuid:uuid>/agent/rotate-credential/",
        views.GatewayRotateCredentialView.as_view(),
        name="gateway_rotate_credential",
    ),
    path(
        "gateways/<uuid:uuid>/disable/", views.GatewayDisableView.as_view(), name="gateway_disable"
    ),
    path("gateways/<uuid:uuid>/enable/", views.GatewayEnableView.as_view(), name="gateway_enable"),
    path("regions/", views.RegionListView.as_view(), name="region_list"),
    path("regions/add/", views.RegionEditView.as_view(), name="region_add"),
    path("regions/<uuid:uuid>/", views.RegionDetailView.as_view(), name="region_detail"),
    path("regions/<uuid:uuid>/edit/", views.RegionEditView.as_view(), name="region_edit"),
    path("regions/<uuid:uuid>/delete/", views.RegionDeleteView.as_view(), name="region_delete"),
]
