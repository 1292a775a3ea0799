from django.urls import include, path

from security import views, views_incidents

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
    # Security events (docs/security-events.md).
    path("security/events/", views.event_list, name="event_list"),
    path("security/events/export/", views.export_events, name="event_export"),
    path("security/events/searches/", views.save_event_search, name="event_search_save"),
    path(
        "security/events/searches/<uuid:uuid>/delete/",
        views.delete_event_search,
        name="event_search_delete",
    ),
    path("security/events/<uuid:uuid>/", views.event_detail, name="event_detail"),
    path(
        "security/events/<uuid:uuid>/acknowledge/",
        views.event_acknowledge,
        name="event_acknowledge",
    ),
    path(
        "security/events/<uuid:uuid>/unacknowledge/",
        views.event_unacknowledge,
        name="event_unacknowledge",
    ),
    # Containment (docs/containment.md).
    path("", include("security.urls_containment")),
    # Incidents and correlation rules (docs/incidents.md).
    path("security/incidents/", views_incidents.incident_list, name="incident_list"),
    path(
        "security/incidents/<uuid:uuid>/", views_incidents.incident_detail, name="incident_detail"
    ),
    path(
        "security/incidents/<uuid:uuid>/status/",
        views_incidents.incident_status,
        name="incident_status",
    ),
    path(
        "security/incidents/<uuid:uuid>/assignee/",
        views_incidents.incident_assignee,
        name="incident_assignee",
    ),
    path(
        "security/incidents/<uuid:uuid>/notes/", views_incidents.incident_note, name="incident_note"
    ),
    path(
        "settings/correlation-rules/",
        views_incidents.correlationrule_list,
        name="correlationrule_list",
    ),
    path(
        "settings/correlation-rules/add/",
        views_incidents.correlationrule_edit,
        name="correlationrule_add",
    ),
    path(
        "settings/correlation-rules/<uuid:uuid>/edit/",
        views_incidents.correlationrule_edit,
        name="correlationrule_edit",
    ),
    path(
        "settings/correlation-rules/<uuid:uuid>/delete/",
        views_incidents.correlationrule_delete,
        name="correlationrule_delete",
    ),
    path("account/sessions/", views.my_sessions, name="my_sessions"),
    path(
        "account/sessions/sign-out-others/",
        views.revoke_other_sessions,
        name="session_revoke_others",
    ),
    path("account/sessions/<uuid:uuid>/sign-out/", views.revoke_session, name="session_revoke"),
]
