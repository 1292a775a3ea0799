from django.urls import path

from accounts.scim import views

app_name = "scim"

urlpatterns = [
    path("ServiceProviderConfig", views.service_provider_config, name="service_provider_config"),
    path("ResourceTypes", views.resource_types, name="resource_types"),
    path("Schemas", views.schemas, name="schemas"),
    path("Users", views.UsersView.as_view(), name="users"),
    path("Users/<str:scim_id>", views.UserView.as_view(), name="user"),
    path("Groups", views.GroupsView.as_view(), name="groups"),
    path("Groups/<str:scim_id>", views.GroupView.as_view(), name="group"),
]
