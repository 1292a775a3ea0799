"""Live updates: group names, topics, and publishing after commit.

How a change reaches a browser tab (docs/live.md):

1. An app calls its publish helper (``gateways.live.publish_gateways``, …) in
   the transaction that made the change. The helper calls :func:`publish`,
   which queues ``(topic, pk)`` in this process **after commit** — a set
   insert, no query and no network: the agent's heartbeat path stays as cheap
   as it was.
2. A daemon thread of the process (the *outbox*) takes queued elements out,
   coalescing per element: the first change of an element goes out at once,
   later changes within ``LIVE_COALESCE_MS`` are folded into one send at the
   end of that window. It loads the objects in one query per topic, renders
   the same partial templates the pages include, and ``group_send``\\ s them to
   the groups of the regions the object belongs to (list pages) and to the
   object's own group (its detail page).
3. Each tab's consumer (console/consumers.py) joined only the groups of what
   its page shows and of the regions its user may see (``accounts.scope`` /
   ``Model.objects.restrict``); it forwards the HTML, which htmx swaps in
   out of band.

The channel layer delivers at most once and drops over capacity: a tab that
reconnects re-fetches its fragments (static/console/console.js).
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import importlib.util
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)

# --- Group names ---------------------------------------------------------------

HEALTH_GROUP = "live.health"


def user_group(user_id: int) -> str:
    """Every open tab of one user: notifications and forced sign-outs."""
    return f"console.user-{user_id}"


def region_group(topic: str, region_pk: int | None) -> str:
    """Tabs listing ``topic`` for users who see region ``region_pk``
    (``None``: users not limited to regions)."""
    return f"live.{topic}.all" if region_pk is None else f"live.{topic}.region-{region_pk}"


def object_group(topic: str, pk: int) -> str:
    """Tabs showing one object's detail page. By primary key (never shown):
    the outbox asks Redis whether anyone watches an object before rendering
    what only its page shows, and it knows pks without a query."""
    return f"live.{topic}.object-{pk}"


# --- Topics --------------------------------------------------------------------

# Levels of a queued change: only what a detail page shows (metrics that move
# with every heartbeat), or what lists show too (status, version, …).
DETAIL = 1
FULL = 2


@dataclass
class Push:
    """One rendered fragment and where it goes."""

    key: str
    html: str
    groups: list[str]
    regions: frozenset[int] = field(default_factory=frozenset)
    topic: str = ""
    # A list row: the id of the element it replaces, and what a tab that does
    # not show that row gets instead (the topic's hint, for its counters).
    element: str = ""
    hint: str = ""
    # When it was made, and which of its groups got it: a failed send is
    # retried for the others only, with the same message and so the same id
    # (Outbox._send, Outbox._requeue).
    created: float = field(default_factory=time.monotonic)
    sent: set[str] = field(default_factory=set)
    body: dict | None = None


class Topic:
    """What one model publishes. An app's ``live.py`` subclasses it and calls
    :func:`register`; the consumer subscribes a tab through it and the outbox
    renders through it.

    The topic's name is the model's label (``gateways.gateway``): pages name
    what they show with it (``<body data-live-watch>``).
    """

    model = None
    # The model permission a subscription needs, besides the region scope.
    action = "view"

    @property
    def name(self) -> str:
        return self.model._meta.label_lower

    @property
    def permission(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}.{self.action}_{opts.model_name}"

    # Subscriptions (called by the consumer, in a worker thread).
    def list_groups(self, user) -> tuple[list[str], frozenset[int] | None]:
        """Groups of the list topic for ``user`` and the regions they may
        see (``None``: all). Nothing without the permission."""
        from accounts.scope import regions_for

        if not user.has_perm(self.permission):
            return [], frozenset()
        if not getattr(self.model, "scope_lookups", ()):
            return [region_group(self.name, None)], None
        regions = regions_for(user, self.permission)
        if regions is None:
            return [region_group(self.name, None)], None
        return [region_group(self.name, pk) for pk in sorted(regions)], regions

    def object_groups(self, user, uuids: Iterable[str]) -> list[str]:
        """Groups of the detail pages among ``uuids`` that ``user`` may see:
        the same restricted queryset the page itself used."""
        visible = self.model.objects.restrict(user, self.action).filter(uuid__in=list(uuids))
        return [object_group(self.name, pk) for pk in visible.values_list("pk", flat=True)]

    # Rendering (called by the outbox thread).
    def load(self, pks: Iterable[int]) -> list:
        """The objects to render, in one query."""
        return list(self.model.objects.filter(pk__in=list(pks)))

    def regions_of(self, obj) -> frozenset[int]:
        raise NotImplementedError

    def list_html(self, obj) -> str:
        """What list pages show of ``obj`` (a table row, …); "" for nothing."""
        return ""

    def detail_html(self, obj, level: int) -> str:
        """What the object's detail page shows live; "" for nothing. At
        ``DETAIL`` level only what moves without a visible change to lists
        (metrics) needs to be sent."""
        return ""

    def hint(self) -> str:
        """Sent with list fragments: pages with counters over this topic
        re-fetch them (counts depend on the user's scope, so they are not
        rendered once for everyone)."""
        return f'<meta data-live-hint="{self.name}">'

    def render(self, pks: dict[int, int]) -> list[Push]:
        """Fragments for ``pks`` (pk -> DETAIL or FULL). What only an
        object's page shows is rendered only when its page is open somewhere
        (asked of Redis for these objects, in one round trip)."""
        pushes = []
        objects = self.load(pks)
        open_pages = None
        if type(self).detail_html is not Topic.detail_html:
            open_pages = open_object_pages(self.name, [obj.pk for obj in objects])
        for obj in objects:
            regions = self.regions_of(obj)
            key = f"{self.name}:{obj.uuid}"
            if pks.get(obj.pk) == FULL:
                html = self.list_html(obj)
                if html:
                    groups = [region_group(self.name, None)]
                    groups += [region_group(self.name, pk) for pk in sorted(regions)]
                    hint = self.hint()
                    pushes.append(
                        Push(
                            key + ":list",
                            html + hint,
                            groups,
                            regions,
                            self.name,
                            element=row_id(obj._meta.model_name, obj.uuid),
                            hint=hint,
                        )
                    )
            if open_pages is not None and obj.pk not in open_pages:
                continue
            html = self.detail_html(obj, pks.get(obj.pk, DETAIL))
            if html:
                groups = [object_group(self.name, obj.pk)]
                pushes.append(Push(key + ":detail", html, groups, regions, self.name))
        return pushes


_topics: dict[str, Topic] = {}
_discovered = False


def register(topic: Topic) -> Topic:
    _topics[topic.name] = topic
    return topic


def topics() -> dict[str, Topic]:
    """Every registered topic; each app's ``live.py`` is imported once."""
    global _discovered
    if not _discovered:
        for app in settings.LOCAL_APPS:
            if importlib.util.find_spec(f"{app}.live") is not None:
                importlib.import_module(f"{app}.live")
        _discovered = True
    return _topics


def open_object_pages(topic: str, pks: list[int]) -> set[int] | None:
    """Which of ``pks`` have their page open in some tab (their object group
    exists in channels-redis): one pipelined round trip. ``None`` (render
    them all) outside the outbox's thread or with another channel layer."""
    outbox = _the_outbox
    if not pks or outbox is None or threading.current_thread() is not outbox.thread:
        return None
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if not hasattr(layer, "_group_key"):
        return None

    async def ask() -> set[int]:
        by_host: dict[int, list[tuple[int, bytes]]] = {}
        for pk in pks:
            group = object_group(topic, pk)
            by_host.setdefault(layer.consistent_hash(group), []).append(
                (pk, layer._group_key(group))
            )
        found = set()
        for index, items in by_host.items():
            pipe = layer.connection(index).pipeline(transaction=False)
            for _pk, key in items:
                pipe.exists(key)
            for (pk, _key), exists in zip(items, await pipe.execute(), strict=True):
                if exists:
                    found.add(pk)
        return found

    return outbox.loop.run_until_complete(ask())


def row_id(model_name: str, uuid) -> str:
    """The id of an object's list row (console/partials/object_row.html)."""
    return f"row-{model_name}-{uuid}"


def render_row(table_class, obj, opts=None) -> str:
    """One row of a list table, through the partial the list page includes
    for each of its rows (console/partials/object_row.html)."""
    table = table_class([obj])
    return render_to_string(
        "console/partials/object_row.html",
        {"row": table.rows[0], "table": table, "opts": opts or obj._meta},
    )


# --- Publishing ------------------------------------------------------------------


def publish(topic: str, pks: Iterable[int], level: int = FULL) -> None:
    """Queue elements of ``topic`` for the live pages, after the current
    transaction commits (at once outside one). Costs a set insert."""
    pks = list(pks)
    if not pks:
        return
    transaction.on_commit(lambda: _outbox().add(topic, pks, level))


def rows_hint(topic: str) -> str:
    """Tells list pages of ``topic`` that rows were added or removed: they
    re-fetch their table (where a new row goes depends on the tab's sort,
    filter and page). Counters over the topic re-fetch as with any hint."""
    return f'<meta data-live-hint="{topic}" data-live-rows>'


def publish_rows_changed(
    topic: str,
    regions: Iterable[int],
    removed: tuple[str, object] | None = None,
    everyone: bool = True,
) -> None:
    """After commit: an object of ``topic`` in ``regions`` was created or
    deleted (``removed``: its model name and uuid, whose row, on pages that
    show it, goes at once). Only tabs that may see one of the regions get it,
    and tabs of users not limited to regions unless ``everyone`` is false (an
    object that moved out of ``regions`` but not out of their sight)."""
    regions = frozenset(pk for pk in regions if pk is not None)
    html = ""
    if removed is not None:
        model_name, uuid = removed
        html = f'<tr id="{row_id(model_name, uuid)}" hx-swap-oob="delete"></tr>'
    html += rows_hint(topic)
    groups = [region_group(topic, None)] if everyone else []
    groups += [region_group(topic, pk) for pk in sorted(regions)]
    push = Push(f"{topic}:rows", html, groups, regions, topic)
    transaction.on_commit(lambda: _outbox().add_push(push))


def send_to_user(user_id: int, html: str) -> None:
    """Send a fragment to every open tab of one user (after commit)."""
    transaction.on_commit(
        lambda: _outbox().add_push(Push(f"user:{user_id}", html, [user_group(user_id)]))
    )


def notify(user_id: int, message: str, level: str = "info") -> None:
    """A toast on every open tab of the user: the same partial as the
    page's own messages (console/partials/toast.html)."""
    html = render_to_string("console/partials/toast.html", {"text": message, "level_tag": level})
    send_to_user(user_id, f'<div hx-swap-oob="beforeend:#toasts">{html}</div>')


# --- The outbox: coalescing and sending --------------------------------------------

_message_ids = itertools.count(1)
BATCH_SECONDS = 0.02
# A round that failed (Redis restarting) is tried again for this long.
RETRY_SECONDS = 10.0
RETRY_MAX_PUSHES = 5000
WATCHED_SECONDS = 1.0
# How many groups one round sends to at once (Outbox._send).
SEND_CONCURRENCY = 16


class _Everything(set):
    def __contains__(self, item) -> bool:
        return True


def message(push: Push) -> dict:
    """What goes through the channel layer. ``id`` lets a tab that is in two
    groups that both get a fragment (a tunnel between two regions it sees)
    forward it once; ``regions`` lets the consumer drop what left its scope."""
    body = {
        "type": "live.fragment",
        "html": push.html,
        "id": f"{os.getpid()}-{next(_message_ids)}",
        "regions": sorted(push.regions),
        "topic": push.topic,
    }
    if push.element:
        # A tab that told which rows it shows gets this only if it shows
        # ``element``; else only ``hint`` (console/consumers.py).
        body["element"] = push.element
        body["hint"] = push.hint
    return body


class Outbox:
    """Per process: elements waiting to be sent, and a daemon thread sending
    them. Nothing in it outlives ``LIVE_COALESCE_MS`` (plus the render)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Condition()
        # Notified when a round ends (a condition of its own on the same lock:
        # ``lock.notify()`` must keep waking the outbox thread, not a waiter here).
        self.idle = threading.Condition(self.lock)
        self.in_round = False
        self.pending: dict[tuple[str, int], int] = {}
        self.pushes: list[Push] = []
        # When each element was last sent (monotonic): the coalescing window.
        self.sent_at: dict[tuple[str, int], float] = {}
        self.open_sockets = 0
        # Objects whose detail page is open somewhere, by topic: looked up in
        # Redis at most every WATCHED_SECONDS, and only while DETAIL changes come.
        self.watched: dict[str, set[int]] = {}
        self.watched_at = float("-inf")
        self.detail_seen = False
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.health_thread: threading.Thread | None = None
        self.health_html: str | None = None
        self.failed_rounds = 0

    # Producers (any thread).
    def add(self, topic: str, pks: list[int], level: int) -> None:
        with self.lock:
            queued = False
            for pk in pks:
                key = (topic, pk)
                if level == DETAIL and pk not in self.watched.get(topic, ()):
                    # Nobody has its page open (as of the last look, at most
                    # WATCHED_SECONDS ago): the heartbeat's whole cost is this lookup.
                    self.detail_seen = True
                    continue
                if self.pending.get(key, 0) < level:
                    self.pending[key] = level
                    queued = True
            self._start()
            if queued:
                self.lock.notify()

    def watching(self, groups: Iterable[str]) -> None:
        """A tab of this process opened these groups: its object pages count
        as watched at once, before the next look in Redis."""
        with self.lock:
            for group in groups:
                topic, _, pk = group.removeprefix("live.").rpartition(".object-")
                if topic and pk.isdigit():
                    self.watched.setdefault(topic, set()).add(int(pk))

    def add_push(self, push: Push) -> None:
        with self.lock:
            self.pushes.append(push)
            self._start()
            self.lock.notify()

    def socket_opened(self) -> None:
        with self.lock:
            self.open_sockets += 1
            if self.health_thread is None or not self.health_thread.is_alive():
                self.health_thread = threading.Thread(
                    target=self._watch_health, name="live-health", daemon=True
                )
                self.health_thread.start()

    def socket_closed(self) -> None:
        with self.lock:
            self.open_sockets = max(0, self.open_sockets - 1)

    def _start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="live-outbox", daemon=True)
            self.thread.start()

    # The thread.
    def _take(self) -> tuple[dict[str, dict[int, int]], list[Push], bool]:
        """Wait for work; return what is due: elements not sent within the
        window go at once, the others when their window ends. Returning
        begins a round (``in_round``, which ``_run`` ends)."""
        window = getattr(settings, "LIVE_COALESCE_MS", 1000) / 1000
        with self.lock:
            while True:
                now = time.monotonic()
                due: dict[str, dict[int, int]] = {}
                next_due = None
                for key, level in list(self.pending.items()):
                    ready_at = self.sent_at.get(key, float("-inf")) + window
                    if ready_at <= now:
                        due.setdefault(key[0], {})[key[1]] = level
                        del self.pending[key]
                        self.sent_at[key] = now
                    elif next_due is None or ready_at < next_due:
                        next_due = ready_at
                pushes, self.pushes = self.pushes, []
                if self.detail_seen and now - self.watched_at >= WATCHED_SECONDS:
                    self.detail_seen = False
                    self.watched_at = now
                    self.in_round = True
                    return due, pushes, True
                if due or pushes:
                    # Elements idle for a window are forgotten: memory stays
                    # proportional to what changed in the last second.
                    for key in [k for k, t in self.sent_at.items() if t + window < now]:
                        del self.sent_at[key]
                    self.in_round = True
                    return due, pushes, False
                if self.detail_seen:
                    look = self.watched_at + WATCHED_SECONDS
                    next_due = look if next_due is None else min(next_due, look)
                timeout = None if next_due is None else max(next_due - now, 0.001)
                self.lock.wait(timeout=timeout)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        while True:
            # At most one round every BATCH_SECONDS: under a storm of
            # heartbeats a round takes many elements (one query per topic, one
            # Redis pipeline) instead of one each.
            time.sleep(BATCH_SECONDS)
            due: dict[str, dict[int, int]] = {}
            pushes: list[Push] = []
            try:
                due, pushes, look = self._take()
                if look:
                    watched = self.loop.run_until_complete(self._watched())
                    with self.lock:
                        self.watched = watched
                if due:
                    pushes += self._render(due)
                    due = {}
                if pushes:
                    self.loop.run_until_complete(self._send(pushes))
            except Exception:  # the thread must survive a bad render or Redis going away
                log.exception("live updates: sending failed")
                self._requeue(due, pushes)
                # The first failure is tried again at once (after a Redis
                # restart only the pooled connection was stale); then slower.
                self.failed_rounds += 1
                time.sleep(min(0.5 * (self.failed_rounds - 1), 2.0))
            else:
                self.failed_rounds = 0
            finally:
                with self.lock:
                    self.in_round = False
                    self.idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued and no round is under way: what was
        published before the call has been sent (or dropped after failing).
        False if that took longer than ``timeout`` seconds. For tests, which
        must not open a socket while a fixture's rows are still on their way."""
        with self.lock:
            return self.idle.wait_for(
                lambda: not (self.in_round or self.pending or self.pushes), timeout=timeout
            )

    def _requeue(self, due: dict[str, dict[int, int]], pushes: list[Push]) -> None:
        """What a failed round did not send goes again in the next one (Redis
        restarting: the first command on a pooled connection fails), unless
        it has waited RETRY_SECONDS already: tabs re-fetch when they reconnect."""
        now = time.monotonic()
        with self.lock:
            for topic, pks in due.items():
                for pk, level in pks.items():
                    if self.pending.get((topic, pk), 0) < level:
                        self.pending[(topic, pk)] = level
            kept = [push for push in pushes if now - push.created < RETRY_SECONDS]
            self.pushes[:0] = kept[-RETRY_MAX_PUSHES:]

    def _render(self, due: dict[str, dict[int, int]]) -> list[Push]:
        close_old_connections()
        try:
            pushes = []
            registry = topics()
            for name, pks in due.items():
                topic = registry.get(name)
                if topic is None:
                    log.warning("live updates: no topic %s", name)
                    continue
                pushes += topic.render(pks)
            return pushes
        finally:
            # Back to the pool (production) or closed: a thread that idles
            # between bursts must not hold a database connection meanwhile.
            connections.close_all()

    async def _watched(self) -> dict[str, set[int]]:
        """Objects whose detail page is open somewhere: the object groups
        that exist in channels-redis (one SCAN per Redis host; the group sets
        are deleted when their last member leaves)."""
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        watched: dict[str, set[int]] = {}
        try:
            prefix = layer._group_key("live.")
            hosts = range(layer.ring_size)
            for index in hosts:
                connection = layer.connection(index)
                async for key in connection.scan_iter(match=f"{prefix}*.object-*", count=1000):
                    name = key.decode()[len(prefix) :]
                    topic, _, pk = name.rpartition(".object-")
                    if pk.isdigit():
                        watched.setdefault(topic, set()).add(int(pk))
        except AttributeError:  # not channels-redis: every object counts as watched
            return {name: _Everything() for name in topics()}
        return watched

    async def _send(self, pushes: list[Push]) -> None:
        """Send ``pushes``; what is left in the list when a send fails is what
        to send again (only to the groups that did not get it).

        Groups are sent side by side, at most ``SEND_CONCURRENCY`` at once,
        each group's pushes in their order. One ``group_send`` is four Redis
        round trips, and this thread shares the GIL with the agent API's
        threads: one after the other, a round of a thousand rows to a dozen
        groups waited on Redis for most of a second (docs/decisions.md,
        "Live console: the outbox sends groups side by side")."""
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        by_group: dict[str, list[Push]] = {}
        for push in pushes:
            if push.body is None:
                push.body = message(push)
            for group in push.groups:
                if group not in push.sent:
                    by_group.setdefault(group, []).append(push)
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send_group(group: str, queue: list[Push]) -> None:
            async with gate:
                for push in queue:
                    await layer.group_send(group, push.body)
                    push.sent.add(group)

        results = await asyncio.gather(
            *(send_group(group, queue) for group, queue in by_group.items()),
            return_exceptions=True,
        )
        pushes[:] = [push for push in pushes if not push.sent.issuperset(push.groups)]
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _watch_health(self) -> None:
        """The readiness checks (console/health.py) every
        ``LIVE_HEALTH_SECONDS`` while this process holds open tabs, pushed
        when their outcome changes. A thread of its own: the Celery ping
        may wait a second, which must not delay fragments."""
        while self.open_sockets and health_interval():
            try:
                html = render_health(_run_checks())
                if html != self.health_html:
                    self.health_html = html
                    self.add_push(Push("health", html, [HEALTH_GROUP]))
            except Exception:
                log.warning("live updates: health check failed", exc_info=True)
            time.sleep(health_interval())

    def flush_at_exit(self) -> None:
        """Send what is queued before the process ends (management commands)."""
        if os.getpid() != self.pid or not (self.pending or self.pushes):
            return
        with self.lock:
            due: dict[str, dict[int, int]] = {}
            for (topic, pk), level in self.pending.items():
                due.setdefault(topic, {})[pk] = level
            self.pending.clear()
            pushes, self.pushes = self.pushes, []
        try:
            pushes += self._render(due)
            asyncio.run(self._send(pushes))
        except Exception:
            log.warning("live updates: could not send at exit", exc_info=True)


def health_interval() -> int:
    return getattr(settings, "LIVE_HEALTH_SECONDS", 0 if settings.TESTING else 15)


_the_outbox: Outbox | None = None
_outbox_lock = threading.Lock()


def _outbox() -> Outbox:
    """This process's outbox (a forked child, such as a Celery worker, gets
    its own: a thread does not survive ``fork``)."""
    global _the_outbox
    with _outbox_lock:
        if _the_outbox is None or _the_outbox.pid != os.getpid():
            _the_outbox = Outbox()
        return _the_outbox


# What the top bar names when a check fails.
CHECK_LABELS = {
    "database": _("database"),
    "redis": _("Redis"),
    "channel_layer": _("live updates"),
    "celery": _("background workers"),
}


def _run_checks() -> dict:
    from console.health import run_checks

    close_old_connections()
    try:
        # Not the channel-layer round trip: a process may receive on the layer
        # from one event loop only (its consumers'), and a tab's open socket
        # already proves the layer works for it (else it shows reconnecting).
        return run_checks(skip=("channel_layer",))
    finally:
        connections.close_all()


def render_health(results: dict) -> str:
    failed = [str(CHECK_LABELS.get(name, name)) for name, r in results.items() if not r["ok"]]
    return render_to_string("console/partials/health.html", {"failed": failed})


def _after_fork_in_child() -> None:
    """A forked child (a Celery worker, a test server) starts with no outbox:
    the parent's threads did not come along, and a lock one of them held at
    the fork would stay held forever."""
    global _the_outbox, _outbox_lock
    _the_outbox = None
    _outbox_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def current_health() -> str | None:
    """The last health fragment this process pushed, for a tab that connects."""
    return _outbox().health_html


atexit.register(lambda: _the_outbox and _the_outbox.flush_at_exit())
