"""Publishing the draft as a revision, and rolling back to an old one.

Both bump the fleet configuration version inside the transaction that
records the revision (so the revision knows the version gateways will report
once they applied it) and hold the FleetConfig row lock until commit, which
also serialises concurrent publications.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from gateways.agent.ingest import bump_config_version, current_config_version
from gateways.models import FleetConfig
from policies.models import CONTAINMENT_POLICY_UUID, Policy, PolicyRevision
from policies.signals import revision_published
from policies.snapshot import (
    empty_snapshot,
    export_draft,
    import_snapshot,
    policy_order_key,
    policy_to_dict,
    same_set,
)
from policies.validation import Report, validate


class PublishRefused(Exception):
    """Publishing did not happen; ``code`` says why (``errors``,
    ``warnings_not_confirmed``, ``unchanged``), ``report`` holds the issues."""

    def __init__(self, code: str, message: str, report: Report | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.report = report


def draft_status() -> dict:
    """The draft against the published set: what the pages show at the top."""
    current = PolicyRevision.current()
    draft = export_draft()
    return {
        "current": current,
        "draft": draft,
        "changed": not same_set(draft, current.snapshot if current else None),
    }


def publish(user, message: str, confirm_warnings: bool = False, request=None) -> PolicyRevision:
    with transaction.atomic():
        # Read the draft under the publication lock: a containment change
        # committed meanwhile is then in it, never overwritten by an older read.
        lock_publication()
        return _publish_draft(user, message, confirm_warnings, request)


def _publish_draft(user, message: str, confirm_warnings: bool, request) -> PolicyRevision:
    draft = export_draft()
    current = PolicyRevision.current()
    if current is not None and same_set(draft, current.snapshot):
        raise PublishRefused(
            "unchanged",
            _("Nothing to publish: the draft is the same as revision %(n)d.")
            % {"n": current.number},
        )
    report = validate(draft)
    if report.errors:
        raise PublishRefused(
            "errors",
            _("The draft has %(n)d error(s): fix them before publishing.")
            % {"n": len(report.errors)},
            report,
        )
    if report.warnings and not confirm_warnings:
        raise PublishRefused(
            "warnings_not_confirmed",
            _("The draft has %(n)d warning(s): confirm that you publish it anyway.")
            % {"n": len(report.warnings)},
            report,
        )
    return record_revision(
        draft, user, message, warnings_confirmed=len(report.warnings), request=request
    )


def rollback(user, revision: PolicyRevision, message: str = "", request=None) -> PolicyRevision:
    """Publish ``revision``'s set again as a new revision, and make it the
    draft (unpublished draft changes are discarded)."""
    with transaction.atomic():
        lock_publication()
        import_snapshot(revision.snapshot, recorded=False)
        # Blocks and quarantines in force stay in force (and lifted ones do
        # not come back): the Containment policy is today's, not the old one.
        return record_revision(
            with_containment(revision.snapshot),
            user,
            message or _("Rollback to revision %(n)d") % {"n": revision.number},
            rolled_back_from=revision,
            request=request,
        )


def record_revision(
    snapshot: dict,
    user,
    message: str,
    rolled_back_from: PolicyRevision | None = None,
    warnings_confirmed: int = 0,
    request=None,
) -> PolicyRevision:
    with transaction.atomic():
        # The UPDATE locks the fleet's config row until commit: one
        # publication at a time, numbers without gaps or duplicates.
        bump_config_version()
        version = current_config_version()
        number = (PolicyRevision.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        revision = PolicyRevision.objects.create(
            number=number,
            snapshot=snapshot,
            message=message,
            author=user if user is not None and user.is_authenticated else None,
            author_name=user.get_username() if user is not None else "",
            config_version=version,
            rolled_back_from=rolled_back_from,
            warnings_confirmed=warnings_confirmed,
        )
        # The audit log's own record of the step (docs/audit.md): the
        # revision's row is audited as a save too, this names what happened.
        audit.record(
            "policy.rollback" if rolled_back_from is not None else "policy.publish",
            revision,
            actor=user,
            changes={"config_version": [version - 1, version]},
            detail={
                "number": number,
                "message": message,
                "warnings_confirmed": warnings_confirmed,
                "rollback_of": rolled_back_from.number if rolled_back_from else None,
            },
            request=request,
        )
        transaction.on_commit(
            lambda: revision_published.send(
                sender=PolicyRevision,
                revision=revision,
                actor=user,
                rollback_of=rolled_back_from,
                warnings_confirmed=warnings_confirmed,
                request=request,
            )
        )
    return revision


# --- Containment: one change published at once ---------------------------------

CONTAINMENT_POLICY_NAME = "Containment"


def containment_policy() -> Policy:
    """The Containment policy of the draft, created on first use."""
    policy, _created = Policy.objects.get_or_create(
        uuid=CONTAINMENT_POLICY_UUID,
        defaults={
            "name": CONTAINMENT_POLICY_NAME,
            "priority": 0,
            "enabled": True,
            "description": _(
                "Blocks and gateway quarantines made by containment actions "
                "(Security → Containment). Evaluated before every other policy; "
                "changed only by containment, which publishes each change at once."
            ),
        },
    )
    return policy


def with_containment(snapshot: dict | None) -> dict:
    """``snapshot`` with its Containment policy replaced by the draft's one.

    Containment publishes every change of that policy at once, so the
    draft's Containment policy always is the published one: taking it from
    the draft adds exactly the containment change and nothing else."""
    data = copy.deepcopy(snapshot or empty_snapshot())
    policies = [p for p in data.get("policies", []) if p["id"] != str(CONTAINMENT_POLICY_UUID)]
    containment = (
        Policy.objects.filter(uuid=CONTAINMENT_POLICY_UUID)
        .select_related("category")
        .prefetch_related("tags")
        .first()
    )
    if containment is not None:
        rules = list(containment.rules.order_by("position", "pk"))
        policies.append(policy_to_dict(containment, rules))
    data["policies"] = sorted(policies, key=policy_order_key)
    return data


def lock_publication() -> None:
    """Take the fleet configuration row's lock until commit: the same lock
    publishing holds, so a containment change and a publication never read
    the same "latest revision" and overwrite each other."""
    FleetConfig.objects.get_or_create(pk=1)
    list(FleetConfig.objects.select_for_update().filter(pk=1).values_list("pk", flat=True))


def publish_containment(
    user, change: Callable[[Policy], bool], message: str, request=None
) -> PolicyRevision | None:
    """Apply ``change`` to the Containment policy and publish it as one new
    revision: the latest published set with only the Containment policy
    replaced. Draft changes of other policies stay unpublished drafts.

    ``change(policy)`` edits the policy's rules in the draft (create or
    delete ``Rule`` rows); it runs inside the transaction, after the lock,
    and returns False when it found nothing to change: then nothing is
    published (None). An exception it raises undoes everything.
    """
    with transaction.atomic():
        lock_publication()
        policy = containment_policy()
        if not change(policy):
            return None
        Policy.objects.filter(pk=policy.pk).update(updated=timezone.now())
        current = PolicyRevision.current()
        snapshot = with_containment(current.snapshot if current is not None else None)
        return record_revision(snapshot, user, message, request=request)
