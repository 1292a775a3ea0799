"""Signals other apps (the audit log) listen to."""

from django.dispatch import Signal

# A request refused by the IP allowlist. Sent with ``request``, ``address``
# (the client address, or None when unknown) and ``part`` ("console"/"api").
allowlist_refused = Signal()

# A session ended by the policy or by a person. Sent with ``user_id``,
# ``session`` (UserSession.uuid) and ``reason``.
session_ended = Signal()
