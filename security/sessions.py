"""Console sessions: recorded at sign-in, timed out by the policy, listed on
"Your sessions", ended one by one or all at once.

Each signed-in Django session carries three keys of ours (below) and has a
``UserSession`` row. Ending a session deletes it from Django's session store,
so its very next request is anonymous, and closes its live websockets.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from console import live
from security.models import SessionPolicy, UserSession
from security.net import client_ip
from security.signals import session_ended

log = logging.getLogger("security.sessions")

# Keys in request.session.
LOGIN_AT = "security.login_at"  # epoch seconds of the sign-in
SEEN_AT = "security.seen_at"  # epoch seconds of the last recorded activity
SESSION_ID = "security.session"  # UserSession.uuid
KEY_DIGEST = "security.key"  # digest of the session key the row holds

# Activity is written at most this often (seconds): a request does not write
# the session or the database each time. Idle timeouts are whole minutes.
ACTIVITY_RESOLUTION = 60

# Sent to the user's live group; each socket closes when its session is named.
REVOKED_MESSAGE = "session.revoked"


def key_digest(session_key: str) -> str:
    """What names a session outside the session store (websocket messages,
    logs): never the key itself."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def describe_device(user_agent: str) -> str:
    """ "Firefox 128 on Windows" from a User-Agent header; "" when unreadable."""
    if not user_agent:
        return ""
    import ua_parser

    result = ua_parser.parse(user_agent[:512])
    browser = result.user_agent
    system = result.os
    parts = []
    if browser and browser.family != "Other":
        parts.append(f"{browser.family} {browser.major}" if browser.major else browser.family)
    if system and system.family != "Other":
        parts.append(str(system.family))
    if not parts:
        return ""
    return " on ".join(parts)


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def start(request, user) -> UserSession:
    """Record a fresh sign-in (the session key has just been rotated by
    ``login()``) and apply the concurrent-session limit."""
    session = request.session
    if session.session_key is None:
        session.save()
    now = time.time()
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:512]
    record, _created = UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "ip_address": client_ip(request),
            "user_agent": user_agent,
            "device": describe_device(user_agent),
            "created": timezone.now(),
            "last_active": timezone.now(),
        },
    )
    session[LOGIN_AT] = now
    session[SEEN_AT] = now
    session[SESSION_ID] = str(record.uuid)
    session[KEY_DIGEST] = key_digest(session.session_key)
    enforce_limit(user, keep=record)
    return record


def enforce_limit(user, keep: UserSession | None = None) -> list[UserSession]:
    """End the user's timed-out sessions, then their oldest ones beyond the
    policy's maximum (the newest sign-in wins: refusing it would shut out a
    user whose old browser was lost or simply closed). Returns what ended."""
    policy = SessionPolicy.current()
    sessions = UserSession.objects.filter(user=user)
    stale = list(sessions.exclude(pk__in=sessions.active(policy).values("pk")))
    active = list(sessions.active(policy).order_by("-created", "-pk"))
    if keep is not None:
        active.sort(key=lambda s: s.pk != keep.pk)  # the new one always stays
    surplus = active[policy.max_sessions_per_user :]
    end_sessions(stale, reason="timed out", notify=False)
    end_sessions(surplus, reason="over the concurrent-session limit")
    return surplus


def end_sessions(sessions: Iterable[UserSession], reason: str, notify: bool = True) -> int:
    """Sign these sessions out now: delete them from the session store, drop
    their rows and close their live websockets. Returns how many ended."""
    sessions = list(sessions)
    if not sessions:
        return 0
    store = _session_store()
    for record in sessions:
        store(session_key=record.session_key).delete()
    UserSession.objects.filter(pk__in=[s.pk for s in sessions]).delete()
    for record in sessions:
        log.info(
            "session ended: %s",
            reason,
            extra={"user_id": record.user_id, "session": str(record.uuid)},
        )
        session_ended.send(
            sender=UserSession, user_id=record.user_id, session=record.uuid, reason=reason
        )
    if notify:
        by_user: dict[int, list[str]] = {}
        for record in sessions:
            by_user.setdefault(record.user_id, []).append(key_digest(record.session_key))
        for user_id, digests in by_user.items():
            transaction.on_commit(lambda u=user_id, d=digests: close_sockets(u, d))
    return len(sessions)


def end_all_sessions(user, *, except_session_key: str | None = None) -> int:
    """Sign ``user`` out everywhere ("sign out everywhere", the users page):
    every session ends and every live websocket of theirs closes with 4401.
    ``except_session_key`` keeps one session (the caller's own, for "sign out
    my other sessions"). Returns how many sessions ended."""
    sessions = UserSession.objects.filter(user=user)
    if except_session_key:
        sessions = sessions.exclude(session_key=except_session_key)
    sessions = list(sessions)
    ended = end_sessions(sessions, reason="signed out everywhere", notify=False)
    # Without a session to keep, close every socket of the user (even one whose
    # session has no row); else only those of the sessions that ended.
    digests = None if except_session_key is None else [key_digest(s.session_key) for s in sessions]
    transaction.on_commit(lambda: close_sockets(user.pk, digests))
    return ended


def close_sockets(user_id: int, digests: list[str] | None) -> None:
    """``digests`` None: every socket of the user."""
    layer = get_channel_layer()
    if layer is None:
        return
    message: dict = {"type": REVOKED_MESSAGE}
    if digests is not None:
        if not digests:
            return
        message["sessions"] = digests
    try:
        async_to_sync(layer.group_send)(live.user_group(user_id), message)
    except Exception:  # the sessions have ended; a socket left open is signed out anyway
        log.warning("could not tell live websockets of user %s to close", user_id, exc_info=True)


def current_record_id(request) -> str | None:
    session = getattr(request, "session", None)
    return session.get(SESSION_ID) if session is not None else None


@receiver(user_logged_in, dispatch_uid="security.sessions.start")
def _on_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        start(request, user)


@receiver(user_logged_out, dispatch_uid="security.sessions.stop")
def _on_logout(sender, request, user, **kwargs):
    # Sent by logout() before it flushes the session.
    record_id = current_record_id(request) if request is not None else None
    if record_id:
        UserSession.objects.filter(uuid=record_id).delete()
