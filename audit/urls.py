from django.urls import path

from audit import reports, views

app_name = "audit"

urlpatterns = [
    path("audit/", views.record_list, name="record_list"),
    path("audit/<int:pk>/", views.record_detail, name="record_detail"),
    path("audit/verify/", views.verify, name="verify"),
    path("audit/export/", views.export, name="export"),
    path("audit/reports/access-review/", reports.access_review, name="access_review"),
]
