"""Everything the audit log listens to, connected in ``AuditConfig.ready()``.

Model saves and deletions are connected per audited model (never for the
noise models: a delete receiver would make Django fetch every cascaded
metric sample to signal it, instead of one DELETE). Sign-ins, sign-outs,
failures, lockouts, MFA, session ends, allowlist refusals, token revocations
and Celery task runs come from their apps' signals.
"""

from __future__ import annotations

import contextlib

from django.apps import apps
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save

from audit import context as audit_context
from audit.choices import ActorType, Outcome, Source
from audit.context import Actor
from audit.recorder import on_m2m_changed, on_post_delete, on_post_save, record, take_snapshot
from audit.registry import is_audited

FAILED_MFA_EVENTS = {
    "mfa.verify.failed",
    "mfa.verify.throttled",
    "mfa.device.confirm_failed",
    "mfa.device.remove_refused",
}


def connect_models() -> None:
    for model in apps.get_models():
        if not is_audited(model):
            continue
        uid = f"audit.{model._meta.label_lower}"
        post_init.connect(take_snapshot, sender=model, dispatch_uid=uid, weak=False)
        post_save.connect(on_post_save, sender=model, dispatch_uid=uid, weak=False)
        post_delete.connect(on_post_delete, sender=model, dispatch_uid=uid, weak=False)
    m2m_changed.connect(on_m2m_changed, dispatch_uid="audit.m2m", weak=False)


# --- authentication ---------------------------------------------------------------


def _sign_in_method(user, request) -> str:
    backend = getattr(user, "backend", "") or ""
    if "ldap" in backend.lower():
        return "ldap"
    if request is not None and "/sso/" in getattr(request, "path", ""):
        return "sso"
    return backend.rsplit(".", 1)[-1] or "password"


def on_logged_in(sender, request, user, **kwargs) -> None:
    record(
        "login",
        user,
        actor=Actor.for_user(user),
        request=request,
        detail={"method": _sign_in_method(user, request)},
    )


def on_logged_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    record("logout", user, actor=Actor.for_user(user), request=request)


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the name tried: Django already replaced secrets in ``credentials``,
    # and the audit log keeps no password, right or wrong.
    username = str(credentials.get("username") or credentials.get("email") or "")[:150]
    record(
        "login.failed",
        actor=Actor(ActorType.ANONYMOUS, "", username),
        request=request,
        object_type="accounts.user",
        object_name=username,
        outcome=Outcome.FAILURE,
    )


def on_locked_out(sender, request, username=None, ip_address=None, **kwargs) -> None:
    record(
        "login.lockout",
        actor=Actor(ActorType.ANONYMOUS, "", str(username or "")[:150]),
        request=request,
        object_type="accounts.user",
        object_name=str(username or ""),
        detail={"ip_address": ip_address},
        outcome=Outcome.DENIED,
    )


def on_mfa_event(sender, event, user, request=None, device_type=None, reason=None, **kwargs):
    actor = kwargs.get("actor")
    record(
        event,
        user,
        actor=Actor.for_user(actor or user) if (actor or user) is not None else None,
        request=request,
        detail={"device_type": device_type, "reason": reason},
        outcome=Outcome.FAILURE if event in FAILED_MFA_EVENTS else Outcome.SUCCESS,
    )


def on_session_ended(sender, user_id=None, session=None, reason=None, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    record(
        "session.end",
        user,
        detail={"session": str(session) if session else None, "reason": reason},
    )


def on_allowlist_refused(sender, request, address=None, part=None, **kwargs) -> None:
    from audit.middleware import first_in_window

    request._audit_denial_recorded = True
    if not first_in_window(f"allowlist:{address}"):
        return  # recorded for this address in the last minute
    record(
        "access.allowlist_refused",
        request=request,
        detail={"address": address and str(address), "part": part, "path": request.path},
        outcome=Outcome.DENIED,
    )


def on_tokens_revoked(sender, user, count=0, **kwargs) -> None:
    # A sign-out revokes tokens too, and is recorded as such: only a
    # revocation that did something, or one asked for through the API.
    ctx = audit_context.current()
    via_api = ctx.request is not None and audit_context.source_of(ctx.request) == Source.API
    if not count and not via_api:
        return
    record("token.revoke_all", user, detail={"refresh_tokens": count})


def on_enrolment_tokens_revoked(sender, gateway, count=0, **kwargs) -> None:
    record("gateway.enrolment_tokens_revoke", gateway, detail={"tokens": count})


def on_invitation_event(sender, user, action, count=1, **kwargs) -> None:
    # accepted: the invited person chose their password; revoked/replaced:
    # open links stopped working (deactivation, a new invitation).
    record(f"invitation.{action}", user, detail={"invitations": count})


def connect_signals() -> None:
    from accounts.mfa.events import mfa_event
    from security.signals import allowlist_refused, session_ended

    user_logged_in.connect(on_logged_in, dispatch_uid="audit.login")
    user_logged_out.connect(on_logged_out, dispatch_uid="audit.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="audit.login_failed")
    mfa_event.connect(on_mfa_event, dispatch_uid="audit.mfa")
    session_ended.connect(on_session_ended, dispatch_uid="audit.session_ended")
    from accounts.models.invitations import invitation_event
    from gateways.enrolment import enrolment_tokens_revoked

    enrolment_tokens_revoked.connect(on_enrolment_tokens_revoked, dispatch_uid="audit.tokens_rev")
    invitation_event.connect(on_invitation_event, dispatch_uid="audit.invitation")
    allowlist_refused.connect(on_allowlist_refused, dispatch_uid="audit.allowlist")
    try:
        from axes.signals import user_locked_out
    except ImportError:  # pragma: no cover
        pass
    else:
        user_locked_out.connect(on_locked_out, dispatch_uid="audit.lockout")
    try:
        from accounts.api_auth.tokens import tokens_revoked
    except ImportError:  # pragma: no cover
        pass
    else:
        tokens_revoked.connect(on_tokens_revoked, dispatch_uid="audit.tokens_revoked")


# --- Celery: tasks are actors ---------------------------------------------------------


def on_task_prerun(sender=None, task_id=None, task=None, **kwargs) -> None:
    name = getattr(task, "name", None) or getattr(sender, "name", "task")
    token = audit_context.enter(
        audit_context.AuditContext(
            actor=Actor.task(name), source=Source.TASK, request_id=str(task_id or "")
        )
    )
    if task is not None:
        task.request.audit_context_token = token


def on_task_postrun(sender=None, task=None, **kwargs) -> None:
    token = getattr(getattr(task, "request", None), "audit_context_token", None)
    if token is not None:
        # ValueError: set in another context (an eager task in a thread).
        with contextlib.suppress(ValueError):
            audit_context.leave(token)
        task.request.audit_context_token = None


def on_task_failure(sender=None, task_id=None, exception=None, **kwargs) -> None:
    name = getattr(sender, "name", "task")
    try:
        record(
            "task.failed",
            actor=Actor.task(name),
            object_type="celery.task",
            object_id=str(task_id or ""),
            object_name=name,
            detail={"error": f"{type(exception).__name__}: {exception}"[:500]},
            outcome=Outcome.FAILURE,
        )
    except Exception:  # the database may be why it failed
        import logging

        logging.getLogger("audit").exception("Could not record the failure of task %s", name)


def connect_celery() -> None:
    from celery.signals import task_failure, task_postrun, task_prerun

    task_prerun.connect(on_task_prerun, dispatch_uid="audit.task_prerun", weak=False)
    task_postrun.connect(on_task_postrun, dispatch_uid="audit.task_postrun", weak=False)
    task_failure.connect(on_task_failure, dispatch_uid="audit.task_failure", weak=False)
