from django.urls import path

from audit import reports, views

app_name = "audit"

urlpatterns = [
    path("audit/", views.record_list, name="record_list"),
    path("audit/<int:pk>/", views.record_detail, name="record_detail"),
    path("audit/verify/", views.verify, name="verify"),
    path("audit/export/", views.export, name="export"),
    # Compliance reports (audit/reports.py) and their schedules.
    path("audit/reports/", views.reports_hub, name="reports"),
    path("audit/reports/access-review/", reports.access_review, name="access_review"),
    path("audit/reports/changes/", reports.change_report, name="change_report"),
    path("audit/reports/privileged/", reports.privileged_actions, name="privileged_actions"),
    path("audit/reports/failed-access/", reports.failed_access, name="failed_access"),
    path("audit/reports/schedules/add/", views.reportschedule_edit, name="reportschedule_add"),
    path(
        "audit/reports/schedules/<uuid:uuid>/edit/",
        views.reportschedule_edit,
        name="reportschedule_edit",
    ),
    path(
        "audit/reports/schedules/<uuid:uuid>/delete/",
        views.reportschedule_delete,
        name="reportschedule_delete",
    ),
    path(
        "audit/reports/schedules/<uuid:uuid>/send/",
        views.reportschedule_send,
        name="reportschedule_send",
    ),
]
