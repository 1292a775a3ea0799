"""Websocket routes: the console's own plus those each app declares in
``<app>/routing.py`` as ``websocket_urlpatterns``."""

import importlib
import importlib.util

from django.conf import settings
from django.urls import path

from console.consumers import LiveConsumer

websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi())]

for _app in settings.LOCAL_APPS:
    if importlib.util.find_spec(f"{_app}.routing") is not None:
        websocket_urlpatterns += importlib.import_module(f"{_app}.routing").websocket_urlpatterns
