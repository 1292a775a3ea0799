"""The audit log (docs/audit.md).

Other apps record their own events with::

    import audit
    audit.record("policy.publish", revision, changes={...}, detail={...})

Model saves, deletions and many-to-many changes are recorded without any
call. ``audit.acting_as(actor)`` attributes what happens inside to an actor
(``audit.Actor.task("name")``, ``audit.Actor.system("name")``).
"""


def record(action, obj=None, **kwargs):
    """See ``audit.recorder.record``."""
    from audit.recorder import record as _record

    return _record(action, obj, **kwargs)


def acting_as(actor, source="system", request_id=""):
    from audit.context import acting_as as _acting_as

    return _acting_as(actor, source=source, request_id=request_id)


def __getattr__(name):
    if name == "Actor":
        from audit.context import Actor

        return Actor
    if name == "register":
        from audit.registry import register

        return register
    raise AttributeError(name)
