"""Publishing the draft as a revision, and rolling back to an old one.

Both bump the fleet configuration version inside the transaction that
records the revision (so the revision knows the version gateways will report
once they applied it) and hold the FleetConfig row lock until commit, which
also serialises concurrent publications.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

import audit
from gateways.agent.ingest import bump_config_version, current_config_version
from policies.models import PolicyRevision
from policies.signals import revision_published
from policies.snapshot import export_draft, import_snapshot, same_set
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
        import_snapshot(revision.snapshot, recorded=False)
        return record_revision(
            revision.snapshot,
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
