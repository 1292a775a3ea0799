"""In-process fan-out of live groups to the tabs of one process.

Without it every open tab is a member of each live group it watches in the
channel layer, and every fragment becomes one message per tab: channels-redis
bundles them into one Redis message per process, but the process then wakes
each tab's consumer for each fragment — with 1,000 tabs on the fleet list,
1,000 task switches and channel-layer receives per gateway row, most of them
for a row the tab does not even show (docs/decisions.md, "Live console:
fan-out in the process").

Here the process joins each live group once, through a channel of its own per
group (``specific.<process>!live-hub-…``, beside its tabs' own channels), and
hands what arrives to the tabs of the process that watch the group, as plain
method calls (``LiveConsumer.deliver``). A group's
channel is made when the first tab of the process joins it and given up when
the last one leaves. Sending is unchanged: ``group_send`` to the group.

The channel layer's guarantees stay: channels-redis keeps one Redis key per
process, holding at most ``capacity`` messages (settings.CHANNEL_LAYERS), an
unread one expiring after ``expiry``. If receiving fails (Redis went away), every
tab of the group is asked to come back (close code 4012): it reconnects with
backoff and re-fetches what it shows, as after any gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

HUB_PREFIX = "live-hub"
# Group memberships older than the layer's group_expiry are dropped by
# channels-redis when it sends; a process that lives longer joins again.
REFRESH_SECONDS = 3600


@dataclass
class _Group:
    channel: str
    members: set = field(default_factory=set)
    task: asyncio.Task | None = None
    joined: float = field(default_factory=time.monotonic)


class Hub:
    """The live groups of one event loop (one server process)."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.groups: dict[str, _Group] = {}
        self.lock = asyncio.Lock()

    async def join(self, consumer, groups: list[str]) -> None:
        async with self.lock:
            for name in groups:
                group = self.groups.get(name)
                if group is None:
                    group = _Group(await self._new_channel())
                    await self.layer.group_add(name, group.channel)
                    group.task = asyncio.ensure_future(self._receive(name, group))
                    self.groups[name] = group
                group.members.add(consumer)

    async def _new_channel(self) -> str:
        """A process-specific channel, as the tabs' own: channels-redis keeps
        all of a process's channels in one Redis key and receives them in one
        loop (a different prefix would wait on its own key behind that loop's
        blocking pop)."""
        name = await self.layer.new_channel()
        return name.replace("!", f"!{HUB_PREFIX}-", 1)

    async def leave(self, consumer, groups: list[str]) -> None:
        async with self.lock:
            for name in groups:
                group = self.groups.get(name)
                if group is None:
                    continue
                group.members.discard(consumer)
                if not group.members:
                    await self._drop(name, group)

    async def _drop(self, name: str, group: _Group) -> None:
        if self.groups.get(name) is group:
            del self.groups[name]
        if group.task is not None and group.task is not asyncio.current_task():
            group.task.cancel()
            # Its receive ends within this loop (channels-redis releases its
            # per-key lock as it unwinds).
            with contextlib.suppress(asyncio.CancelledError):
                await group.task
        try:
            await self.layer.group_discard(name, group.channel)
        except Exception:  # Redis away: the membership expires with group_expiry
            log.debug("live fan-out: could not leave %s", name, exc_info=True)

    async def _receive(self, name: str, group: _Group) -> None:
        while True:
            try:
                message = await self.layer.receive(group.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "live fan-out: receiving %s failed; tabs reconnect", name, exc_info=True
                )
                members = list(group.members)
                async with self.lock:
                    if self.groups.get(name) is group:
                        del self.groups[name]
                for consumer in members:
                    consumer.come_back()
                return
            self.dispatch(group, message)
            if time.monotonic() - group.joined > REFRESH_SECONDS:
                group.joined = time.monotonic()
                try:
                    await self.layer.group_add(name, group.channel)
                except Exception:
                    log.debug("live fan-out: could not refresh %s", name, exc_info=True)

    def dispatch(self, group: _Group, message: dict) -> None:
        if message.get("type") == "live.fragment":
            for consumer in list(group.members):
                consumer.deliver(message)
        else:  # live.reconnect, …: through the consumer's own handlers
            for consumer in list(group.members):
                asyncio.ensure_future(consumer.dispatch(message))


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub(layer) -> Hub:
    """The hub of the running event loop (each test's loop has its own)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None or found.layer is not layer:
        found = _hubs[loop] = Hub(layer)
    return found
