from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.mfa.policy import second_factor_pending
from console import live

# Close codes the page understands (console.js): 4401 means "sign in again".
CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncWebsocketConsumer):
    """One live channel per browser tab.

    It is refused to anonymous and inactive users on connect. Each tab joins its
    user's group, so notifications for that user reach all of their tabs; the
    domain topics (gateway status, tunnels, events, alerts) join here as the
    apps start publishing.
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
        self.subscriptions = [live.user_group(user.pk)]
        for group in self.subscriptions:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "subscriptions", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def live_fragment(self, event: dict) -> None:
        """A rendered fragment (htmx out-of-band swap) published to a group."""
        await self.send(text_data=event["html"])

    async def session_revoked(self, event: dict) -> None:
        """Sessions of this user were signed out (security/sessions.py): close
        this socket if its session is one of them ("sessions": digests of the
        keys; absent: every socket of the user)."""
        import hashlib

        digests = event.get("sessions")
        if digests is not None:
            key = getattr(self.scope.get("session"), "session_key", None) or ""
            if hashlib.sha256(key.encode()).hexdigest() not in digests:
                return
        await self.close(code=CLOSE_UNAUTHENTICATED)
