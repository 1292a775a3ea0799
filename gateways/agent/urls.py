from django.contrib.auth.decorators import login_not_required
from django.urls import path

from gateways.agent import views

app_name = "agent"

# Agents authenticate with their credential, never with a user session: the
# login-required middleware must let them through to the views' own checks.
urlpatterns = [
    path("enroll", login_not_required(views.EnrollView.as_view()), name="enroll"),
    path("heartbeat", login_not_required(views.HeartbeatView.as_view()), name="heartbeat"),
    path("events", login_not_required(views.EventsView.as_view()), name="events"),
    path("config", login_not_required(views.ConfigView.as_view()), name="config"),
]
