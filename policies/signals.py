"""Signals the audit log listens to (the audit issue): every change to the
draft, every publication and rollback. Sent after commit."""

from django.dispatch import Signal

# A policy, rule or category of the draft was created, changed, deleted,
# moved, or the whole draft was replaced by an import. Sent with ``actor``
# (a user or None), ``action`` ("create", "update", "delete", "move",
# "import"), ``object_type`` ("policy", "rule", "category", "policy set"),
# ``object_id`` (public id or None), ``name``, ``before`` and ``after``
# (snapshot-format dicts or None) and ``request`` (or None).
draft_changed = Signal()

# A revision was published (a publish or a rollback). Sent with
# ``revision``, ``actor``, ``rollback_of`` (the revision rolled back to, or
# None), ``warnings_confirmed`` (how many warnings the publisher accepted)
# and ``request`` (or None).
revision_published = Signal()
