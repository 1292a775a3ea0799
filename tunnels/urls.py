from django.urls import path

from tunnels import views

app_name = "tunnels"

urlpatterns = [
    path("tunnels/", views.TunnelListView.as_view(), name="tunnel_list"),
    path("tunnels/add/", views.TunnelEditView.as_view(), name="tunnel_add"),
    path("tunnels/<uuid:uuid>/", views.TunnelDetailView.as_view(), name="tunnel_detail"),
    path("tunnels/<uuid:uuid>/edit/", views.TunnelEditView.as_view(), name="tunnel_edit"),
    path("tunnels/<uuid:uuid>/delete/", views.TunnelDeleteView.as_view(), name="tunnel_delete"),
]
