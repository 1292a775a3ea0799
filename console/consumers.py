from __future__ import annotations

import asyncio
import hashlib
import json
from collections import deque
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.mfa.policy import second_factor_pending
from console import fanout, live

# Close codes the page understands (console.js): 4401 means "sign in again",
# 4403 "what you may see changed": both reload the page.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_ACCESS_CHANGED = 4403
# "Come back": the page reconnects (with backoff) and re-fetches. Not 1012
# ("service restart"): daphne (autobahn) refuses to send a close code outside
# 1000 and 3000–4999, raising inside the consumer instead of closing cleanly.
CLOSE_RECONNECT = 4012

# A page names what it shows in the socket's URL: ``?watch=gateways.gateway``
# (a list: every element of the regions the user sees) or
# ``gateways.gateway:<uuid>`` (one object's page). More is ignored.
MAX_WATCHED = 20
# Message ids remembered to forward a fragment once when two of the tab's
# groups both got it.
RECENT_IDS = 64
# A page tells which list rows it shows (``{"show": [element ids], "hints":
# [topics]}``, sent by console.js when the socket opens and whenever its rows
# change): other rows' fragments are not sent to it, only their hint, and that
# only for the topics it has counters over. At most this many rows.
MAX_SHOWN = 500


def watched(query_string: bytes) -> list[tuple[str, str | None]]:
    values = parse_qs(query_string.decode("latin-1")).get("watch", [])
    items = []
    for value in values:
        for token in value.split(","):
            topic, _, uuid = token.strip().partition(":")
            if topic:
                items.append((topic, uuid or None))
    return items[:MAX_WATCHED]


def subscriptions(user, watch: list[tuple[str, str | None]]) -> tuple[list[str], dict]:
    """The groups of what the page shows that ``user`` may see, and per topic
    the regions they may see (None: all). Through ``accounts.scope`` and
    ``Model.objects.restrict``, as the pages themselves."""
    registry = live.topics()
    groups, scopes, lists = [], {}, {}
    details: dict[str, list[str]] = {}
    for name, uuid in watch:
        topic = registry.get(name)
        if topic is None:
            continue
        if name not in scopes:
            lists[name], scopes[name] = topic.list_groups(user)
        if uuid is None:
            groups += lists[name]
        else:
            details.setdefault(name, []).append(uuid)
    for name, uuids in details.items():
        try:
            groups += registry[name].object_groups(user, uuids)
        except Exception:  # a malformed uuid: nothing to watch
            continue
    return list(dict.fromkeys(groups)), scopes


class LiveConsumer(AsyncWebsocketConsumer):
    """One live channel per browser tab.

    It is refused to anonymous and inactive users and to users who still owe
    the second factor. Each tab joins its user's group (notifications, forced
    sign-outs), the health group, and the groups of what its page shows within
    the user's region scope (console/live.py).
    """

    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # Signed in with the password but not yet the second factor (docs/mfa.md).
        if await second_factor_pending(self.scope):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        watch = watched(self.scope.get("query_string", b""))
        topic_groups, self.scopes = await database_sync_to_async(subscriptions)(user, watch)
        self.recent: deque[str] = deque(maxlen=RECENT_IDS)
        self.shown: set[str] | None = None
        self.hints: set[str] | None = None
        self.outgoing: list[str] = []
        self.flushing: asyncio.Task | None = None
        self.hinted: dict[str, float] = {}
        self.trailing: set[str] = set()
        # The user's own group through the tab's channel (notifications,
        # forced sign-outs: few); the live groups through the process's
        # fan-out (console/fanout.py): one member per process, not per tab.
        self.user_group = live.user_group(user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        self.hub = fanout.hub(self.channel_layer)
        self.subscriptions = [live.HEALTH_GROUP, *topic_groups]
        try:
            await self.hub.join(self, self.subscriptions)
        except Exception:
            await self.hub.leave(self, self.subscriptions)
            raise
        await self.accept()
        live._outbox().socket_opened()
        live._outbox().watching(topic_groups)
        self.counted = True
        health = live.current_health()
        if health:
            await self.send(text_data=health)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            live._outbox().socket_closed()
            self.counted = False
        if getattr(self, "hub", None) is not None:
            await self.hub.leave(self, self.subscriptions)
            self.hub = None
        if getattr(self, "user_group", None):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)
        if getattr(self, "flushing", None) is not None:
            self.flushing.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """``{"show": [ids], "hints": [topics]}``: the list rows the page
        shows now and the topics it has counters over. Anything else is
        ignored (the socket is for the server's pushes)."""
        try:
            message = json.loads(text_data or "")
            shown, hints = message.get("show"), message.get("hints")
        except (ValueError, AttributeError):
            return
        if isinstance(shown, list):
            self.shown = {element for element in shown[:MAX_SHOWN] if isinstance(element, str)}
            self.hints = (
                {topic for topic in hints[:MAX_WATCHED] if isinstance(topic, str)}
                if isinstance(hints, list)
                else None
            )

    async def live_fragment(self, event: dict) -> None:
        """A rendered fragment sent to the tab's own channel (its user's group)."""
        self.deliver(event)

    def deliver(self, event: dict) -> None:
        """A rendered fragment (htmx out-of-band swaps) published to one of the
        tab's groups: queued for the socket, unless the tab got it already
        through another group, it left the user's scope, or it is a list row
        the page does not show (then only its hint goes, once per window)."""
        message_id = event.get("id")
        if message_id is not None:
            if message_id in self.recent:
                return
            self.recent.append(message_id)
        regions = event.get("regions")
        topic = event.get("topic")
        if regions and topic in self.scopes:
            allowed = self.scopes[topic]
            # An object moved out of the user's regions while its page is open.
            if allowed is not None and not allowed.intersection(regions):
                return
        element = event.get("element")
        if element and self.shown is not None and element not in self.shown:
            if event.get("hint") and (self.hints is None or topic in self.hints):
                self._hint(event["hint"])
            return
        self._queue(event["html"])

    def _queue(self, html: str) -> None:
        """Fragments queued in the same turn of the event loop go out as one
        websocket message (htmx swaps each of its elements)."""
        self.outgoing.append(html)
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self.outgoing:
            html, self.outgoing = "".join(self.outgoing), []
            await self.send(text_data=html)

    def _hint(self, hint: str) -> None:
        """At most one hint per topic per coalescing window; one that comes
        within the window goes at its end (counters must see the last change)."""
        loop = asyncio.get_running_loop()
        window = getattr(settings, "LIVE_COALESCE_MS", 1000) / 1000
        now = loop.time()
        last = self.hinted.get(hint)
        if last is None or now - last >= window:
            self.hinted[hint] = now
            self._queue(hint)
        elif hint not in self.trailing:
            self.trailing.add(hint)
            loop.call_at(last + window, self._trail, hint)

    def _trail(self, hint: str) -> None:
        self.trailing.discard(hint)
        if getattr(self, "hub", None) is None:  # closed meanwhile
            return
        self.hinted[hint] = asyncio.get_running_loop().time()
        self._queue(hint)

    def come_back(self) -> None:
        """The process lost the tab's groups (Redis went away): the page
        reconnects and re-fetches."""
        if getattr(self, "hub", None) is not None and not getattr(self, "leaving", False):
            self.leaving = True
            asyncio.ensure_future(self.close(code=CLOSE_RECONNECT))

    async def live_reconnect(self, event: dict) -> None:
        """Ask the tab to reconnect (a web process draining before a restart):
        it comes back, on another process if need be, and re-fetches."""
        await self.close(code=CLOSE_RECONNECT)

    async def access_changed(self, event: dict) -> None:
        """The user's roles, scope or account changed (accounts/live.py)."""
        await self.close(code=CLOSE_ACCESS_CHANGED)

    async def session_revoked(self, event: dict) -> None:
        """Sessions of this user were signed out (security/sessions.py): close
        this socket if its session is one of them ("sessions": digests of the
        keys; absent: every socket of the user)."""
        digests = event.get("sessions")
        if digests is not None:
            key = getattr(self.scope.get("session"), "session_key", None) or ""
            if hashlib.sha256(key.encode()).hexdigest() not in digests:
                return
        await self.close(code=CLOSE_UNAUTHENTICATED)
