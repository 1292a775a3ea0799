"""Security → Containment (security.views_containment), included by
security/urls.py inside the ``security`` namespace."""

from django.urls import path

from security import views_containment as views

urlpatterns = [
    path("security/containment/", views.containment_list, name="containmentaction_list"),
    path("security/containment/block/", views.containment_block, name="containment_block"),
    path(
        "security/containment/quarantine/",
        views.containment_quarantine,
        name="containment_quarantine",
    ),
    path(
        "security/containment/<uuid:uuid>/",
        views.containment_detail,
        name="containmentaction_detail",
    ),
    path(
        "security/containment/<uuid:uuid>/lift/",
        views.containment_lift,
        name="containmentaction_lift",
    ),
]
