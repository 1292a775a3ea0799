from django.urls import path

from policies import views

app_name = "policies"

urlpatterns = [
    path("policies/", views.PolicyListView.as_view(), name="policy_list"),
    path("policies/add/", views.PolicyEditView.as_view(), name="policy_add"),
    path("policies/publish/", views.PublishView.as_view(), name="publish"),
    path("policies/simulate/", views.SimulateView.as_view(), name="simulate"),
    path("policies/what-changes/", views.ImpactView.as_view(), name="impact"),
    path("policies/export/", views.ExportView.as_view(), name="export"),
    path("policies/import/", views.ImportView.as_view(), name="import"),
    path("policies/revisions/", views.RevisionListView.as_view(), name="revision_list"),
    path(
        "policies/revisions/compare/", views.RevisionCompareView.as_view(), name="revision_compare"
    ),
    path(
        "policies/revisions/<uuid:uuid>/",
        views.RevisionDetailView.as_view(),
        name="revision_detail",
    ),
    path(
        "policies/revisions/<uuid:uuid>/rollback/",
        views.RollbackView.as_view(),
        name="revision_rollback",
    ),
    path(
        "policies/categories/",
        views.PolicyCategoryListView.as_view(),
        name="policycategory_list",
    ),
    path(
        "policies/categories/add/",
        views.PolicyCategoryEditView.as_view(),
        name="policycategory_add",
    ),
    path(
        "policies/categories/<uuid:uuid>/edit/",
        views.PolicyCategoryEditView.as_view(),
        name="policycategory_edit",
    ),
    path(
        "policies/categories/<uuid:uuid>/delete/",
        views.PolicyCategoryDeleteView.as_view(),
        name="policycategory_delete",
    ),
    path("policies/<uuid:uuid>/", views.PolicyDetailView.as_view(), name="policy_detail"),
    path("policies/<uuid:uuid>/edit/", views.PolicyEditView.as_view(), name="policy_edit"),
    path("policies/<uuid:uuid>/delete/", views.PolicyDeleteView.as_view(), name="policy_delete"),
    path("policies/<uuid:uuid>/rules/add/", views.RuleEditView.as_view(), name="rule_add"),
    path(
        "policies/<uuid:uuid>/rules/<uuid:rule>/edit/",
        views.RuleEditView.as_view(),
        name="rule_edit",
    ),
    path(
        "policies/<uuid:uuid>/rules/<uuid:rule>/delete/",
        views.RuleDeleteView.as_view(),
        name="rule_delete",
    ),
    path(
        "policies/<uuid:uuid>/rules/<uuid:rule>/move/",
        views.RuleMoveView.as_view(),
        name="rule_move",
    ),
]
