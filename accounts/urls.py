"""Accounts pages: users and roles (Settings), and each user's own security
(Your account). Each concern keeps its views in its own module."""

from django.urls import path  # noqa: F401

app_name = "accounts"

urlpatterns: list = []
