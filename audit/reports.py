"""Compliance reports, written once: each report says how to gather its data
for a period, which template renders it and which CSV rows it gives; one view
answers it as a page, a CSV file and a printable page (clean PDF from the
browser), and scheduled reports (audit/report_schedules.py) email the same
HTML and CSV.

- **Access review**: every account with its roles, regions, MFA status, last
  sign-in, directory source and API keys (with their last use), plus its
  sign-ins, denials and changes in the period.
- **Change report**: every configuration change in the period, grouped by
  object type and actor, with the changes listed (each linking to its record).
- **Privileged actions**: policy publishes and rollbacks, role and permission
  changes, role assignments, MFA resets, API key creation, restores and
  containment actions.
- **Failed and denied access**: failed sign-ins, lockouts, permission denials,
  allowlist refusals and refused MFA/SSO, grouped by source IP and by user.

Every report costs a fixed number of queries whatever the period holds: the
groups are counted by the database, and the listed records are capped at
``LIST_LIMIT`` (the CSV lists them all, streamed from a server-side cursor).
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from datetime import timedelta

from django import forms
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.db.models import Case, CharField, Count, Exists, Max, Min, OuterRef, Prefetch, Q, When
from django.db.models import Value as V
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

import audit
from audit.choices import Outcome
from audit.filtersets import DateTimeInput
from audit.models import AuditRecord

VIEW = "audit.view_auditrecord"
# Records listed on a report's page (and in its email); the CSV has them all.
LIST_LIMIT = 500
# The longest period a report may cover (a year and a leap day).
MAX_PERIOD = timedelta(days=367)


class PeriodForm(forms.Form):
    after = forms.DateTimeField(label=gettext_lazy("From"), required=False, widget=DateTimeInput())
    before = forms.DateTimeField(
        label=gettext_lazy("Until"), required=False, widget=DateTimeInput()
    )

    def clean(self):
        data = super().clean()
        after, before = data.get("after"), data.get("before")
        if after and before:
            if after >= before:
                self.add_error("before", _("Choose an end after the start."))
            elif before - after > MAX_PERIOD:
                self.add_error("after", _("A report covers at most a year."))
        return data

    def period(self):
        now = timezone.now()
        data = self.cleaned_data if self.is_valid() else {}
        before = data.get("before") or now
        after = data.get("after") or before - timedelta(days=90)
        return after, before


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""


def _type_label(object_type: str) -> str:
    """ "gateways.gateway" as "Gateway" (its model's name), or as stored."""
    try:
        model = apps.get_model(object_type) if "." in object_type else None
    except (LookupError, ValueError):
        model = None
    if model is None:
        return object_type or _("(none)")
    return capfirst(str(model._meta.verbose_name))


def _record_url(pk) -> str:
    return reverse("audit:record_detail", kwargs={"pk": pk})


def _log_url(after, before, **filters) -> str:
    """The audit log with this period (and filters) applied."""
    params = {
        "after": after.strftime("%Y-%m-%dT%H:%M"),
        "before": before.strftime("%Y-%m-%dT%H:%M"),
        **filters,
    }
    return reverse("audit:record_list") + "?" + urlencode(params, doseq=True)


# Only what the listed rows and the CSV show.
LIST_FIELDS = (
    "id",
    "seq",
    "time",
    "actor_type",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_name",
    "ip",
    "outcome",
    "source",
)


class _Echo:
    """A file for csv.writer that hands each line back instead of keeping it."""

    def write(self, value):
        return value


class Report:
    """One compliance report. Subclasses set the names and implement
    ``data(after, before)`` (the template's context) and ``csv_rows(data)``
    (lists of cells; the first is the header)."""

    slug = ""  # the URL name in the audit namespace, and the CSV file's name
    title = ""
    description = ""
    icon = "clipboard-list"
    template = ""

    @property
    def url(self) -> str:
        return reverse(f"audit:{self.slug}")

    def data(self, after, before) -> dict:
        raise NotImplementedError

    def csv_rows(self, data):
        raise NotImplementedError

    def filename(self, after, before, ext: str) -> str:
        name = self.slug.replace("_", "-")
        return f"{name}-{after:%Y%m%d}-{before:%Y%m%d}.{ext}"

    def csv_lines(self, data):
        """The CSV file line by line (streamed to the browser: the records
        come from a server-side cursor, memory does not grow with them)."""
        writer = csv.writer(_Echo())
        yield writer.writerow([f"# {self.title}", _iso(data["after"]), _iso(data["before"])])
        for row in self.csv_rows(data):
            yield writer.writerow(row)

    def csv_text(self, data) -> str:
        return "".join(self.csv_lines(data))

    def render_body(self, data, links: bool = True) -> str:
        """The report's own part (no page around it): the page, the printable
        page and the email (``links=False``: no links into the console) all
        show this."""
        return render_to_string(self.template, {**data, "report": self, "links": links})


# --- access review ----------------------------------------------------------------


class AccessReview(Report):
    slug = "access_review"
    title = gettext_lazy("Access review")
    description = gettext_lazy(
        "Every account: roles, regions, MFA, last sign-in, directory source, API keys "
        "and their last use, and its sign-ins, denials and changes in the period."
    )
    icon = "user-check"
    template = "audit/reports/access_review.html"

    def data(self, after, before) -> dict:
        return {"after": after, "before": before, "rows": access_review_rows(after, before)}

    COLUMNS = (
        "username",
        "active",
        "roles",
        "regions",
        "mfa",
        "last_login",
        "source",
        "api_keys",
        "sign_ins_in_period",
        "denied_in_period",
        "changes_in_period",
    )

    def csv_rows(self, data):
        yield self.COLUMNS
        for row in data["rows"]:
            keys = "; ".join(
                f"{k['name']} [{k['status']}] last used "
                f"{k['last_used'].isoformat() if k['last_used'] else 'never'}"
                for k in row["api_keys"]
            )
            yield [
                row["user"].get_username(),
                "yes" if row["active"] else "no",
                "; ".join(row["roles"]),
                "; ".join(row["regions"]) or "all (by role)",
                "; ".join(row["mfa"]) or "none",
                row["last_login"].isoformat() if row["last_login"] else "never",
                row["source"],
                keys,
                row["sign_ins"],
                row["denied"],
                row["changes"],
            ]


def access_review_rows(after, before) -> list[dict]:
    """One row per account, in a fixed number of queries."""
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_otp_webauthn.models import WebAuthnCredential

    from accounts.models import ApiKey

    in_period = Q(time__gte=after, time__lt=before)
    activity = {
        row["actor_user_id"]: row
        for row in AuditRecord.objects.filter(in_period, actor_user__isnull=False)
        .values("actor_user_id")
        .annotate(
            sign_ins=Count("id", filter=Q(action="login")),
            denied=Count("id", filter=Q(outcome="denied")),
            changes=Count("id", filter=Q(action__in=("create", "update", "delete"))),
        )
        .order_by()
    }
    users = (
        get_user_model()
        .objects.annotate(
            has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            has_key=Exists(WebAuthnCredential.objects.filter(user=OuterRef("pk"), confirmed=True)),
        )
        .select_related("directory_identity")
        .prefetch_related(
            "groups",
            "regions",
            Prefetch("api_keys", queryset=ApiKey.objects.order_by("-created")),
        )
        .order_by("username")
    )
    rows = []
    for user in users:
        identity = getattr(user, "directory_identity", None)
        mfa = [name for flag, name in ((user.has_totp, "TOTP"), (user.has_key, "key")) if flag]
        seen = activity.get(user.pk, {})
        rows.append(
            {
                "user": user,
                "active": user.is_active,
                "roles": [g.name for g in user.groups.all()]
                + (["superuser"] if user.is_superuser else []),
                "regions": [r.name for r in user.regions.all()],
                "mfa": mfa,
                "last_login": user.last_login,
                "source": identity.get_source_display() if identity else _("local"),
                "api_keys": [
                    {
                        "name": str(key),
                        "status": key.status,
                        "scopes": key.scopes,
                        "last_used": key.last_used,
                    }
                    for key in user.api_keys.all()
                ],
                "sign_ins": seen.get("sign_ins", 0),
                "denied": seen.get("denied", 0),
                "changes": seen.get("changes", 0),
            }
        )
    return rows


# --- records of a kind, grouped --------------------------------------------------


class RecordReport(Report):
    """A report over audit records of one kind in the period: groups counted
    by the database, then the records themselves (capped on the page)."""

    def records(self, after, before):
        return AuditRecord.objects.filter(self.condition(), time__gte=after, time__lt=before)

    def condition(self) -> Q:
        raise NotImplementedError

    def listed(self, queryset) -> tuple[list, bool]:
        rows = list(queryset.order_by("time", "id").only(*LIST_FIELDS)[: LIST_LIMIT + 1])
        return rows[:LIST_LIMIT], len(rows) > LIST_LIMIT

    def csv_records(self, queryset, extra=None):
        """The record rows of the CSV: every one, by a server-side cursor."""
        yield [
            "record",
            "time",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object",
            "ip",
            "outcome",
            *([extra] if extra else []),
        ]
        for r in queryset.order_by("time", "id").only(*LIST_FIELDS).iterator(chunk_size=2000):
            yield [
                r.pk,
                _iso(r.time),
                r.actor_name,
                r.action,
                r.object_type,
                r.object_id,
                r.object_name,
                r.ip,
                r.outcome,
                *([getattr(r, extra)] if extra else []),
            ]


# What is not a configuration change: sign-ins and their second factor,
# refusals, sessions, tokens, tasks, the audit log's own actions and exports.
NOT_CHANGES = (
    "login",
    "logout",
    "mfa.verify",
    "permission.",
    "access.",
    "session.",
    "token.",
    "task.",
    "audit.",
)


def change_condition() -> Q:
    condition = Q(outcome=Outcome.SUCCESS) & ~Q(object_type="") & ~Q(action__endswith=".export")
    for prefix in NOT_CHANGES:
        condition &= ~Q(action__startswith=prefix)
    return condition


class ChangeReport(RecordReport):
    slug = "change_report"
    title = gettext_lazy("Change report")
    description = gettext_lazy(
        "Every configuration change in the period, grouped by object type and by who made "
        "it, each linking to its audit record."
    )
    icon = "file-diff"
    template = "audit/reports/change_report.html"

    def condition(self) -> Q:
        return change_condition()

    def data(self, after, before) -> dict:
        queryset = self.records(after, before)
        groups = (
            queryset.values("object_type", "actor_type", "actor_name")
            .annotate(
                count=Count("id"),
                created=Count("id", filter=Q(action="create")),
                deleted=Count("id", filter=Q(action="delete")),
                first=Min("time"),
                last=Max("time"),
            )
            .order_by("object_type", "-count", "actor_name")
        )
        types: OrderedDict[str, dict] = OrderedDict()
        for group in groups:
            entry = types.setdefault(
                group["object_type"],
                {
                    "object_type": group["object_type"],
                    "label": _type_label(group["object_type"]),
                    "count": 0,
                    "actors": [],
                },
            )
            entry["count"] += group["count"]
            group["changed"] = group["count"] - group["created"] - group["deleted"]
            group["log_url"] = _log_url(
                after, before, object_type=group["object_type"], actor=group["actor_name"]
            )
            entry["actors"].append(group)
        records, truncated = self.listed(queryset)
        return {
            "after": after,
            "before": before,
            "types": list(types.values()),
            "total": sum(t["count"] for t in types.values()),
            "records": records,
            "truncated": truncated,
            "log_url": _log_url(after, before),
        }

    def csv_rows(self, data):
        yield ["object_type", "actor", "changes", "created", "updated", "deleted", "first", "last"]
        for entry in data["types"]:
            for group in entry["actors"]:
                yield [
                    entry["object_type"],
                    group["actor_name"],
                    group["count"],
                    group["created"],
                    group["changed"],
                    group["deleted"],
                    _iso(group["first"]),
                    _iso(group["last"]),
                ]
        yield []
        yield from self.csv_records(self.records(data["after"], data["before"]))


# Each kind of privileged action, in the order shown: (key, label, condition).
PRIVILEGED_KINDS = (
    (
        "policy",
        gettext_lazy("Policy publish and rollback"),
        Q(action__in=("policy.publish", "policy.rollback")),
    ),
    (
        "role",
        gettext_lazy("Role and permission changes"),
        Q(object_type="accounts.role") | Q(action="role.permissions_change"),
    ),
    (
        "assignment",
        gettext_lazy("Role assignments"),
        Q(action="user.roles_change")
        | Q(object_type="accounts.user", changes__has_key="is_superuser")
        | Q(object_type="accounts.user", changes__has_key="is_staff"),
    ),
    ("mfa_reset", gettext_lazy("MFA resets"), Q(action="mfa.reset")),
    ("api_key", gettext_lazy("API keys created"), Q(action="apikey.create")),
    # backup.restore and whatever else an app names "<thing>.restore".
    ("restore", gettext_lazy("Restores"), Q(action__regex=r"(^|\.)restore$")),
    # security.ContainmentAction rows (recorded as any model is), and named
    # containment.* events.
    (
        "containment",
        gettext_lazy("Containment actions"),
        Q(object_type="security.containmentaction") | Q(action__startswith="containment."),
    ),
)


class PrivilegedActions(RecordReport):
    slug = "privileged_actions"
    title = gettext_lazy("Privileged actions")
    description = gettext_lazy(
        "Policy publishes and rollbacks, role and permission changes, role assignments, "
        "MFA resets, API keys created, restores and containment actions."
    )
    icon = "shield-alert"
    template = "audit/reports/privileged_actions.html"

    def condition(self) -> Q:
        condition = Q()
        for _key, _label, kind in PRIVILEGED_KINDS:
            condition |= kind
        return condition

    def records(self, after, before):
        return (
            super()
            .records(after, before)
            .annotate(
                kind=Case(
                    *(When(kind, then=V(key)) for key, _label, kind in PRIVILEGED_KINDS),
                    output_field=CharField(),
                )
            )
        )

    def data(self, after, before) -> dict:
        queryset = self.records(after, before)
        counts = {
            row["kind"]: row
            for row in queryset.values("kind")
            .annotate(
                count=Count("id"),
                actors=Count("actor_name", distinct=True),
                not_success=Count("id", filter=~Q(outcome=Outcome.SUCCESS)),
                last=Max("time"),
            )
            .order_by()
        }
        labels = {key: label for key, label, _kind in PRIVILEGED_KINDS}
        kinds = [
            {"key": key, "label": label, **counts.get(key, {"count": 0, "actors": 0})}
            for key, label, _kind in PRIVILEGED_KINDS
        ]
        records, truncated = self.listed(queryset)
        for record in records:
            record.kind_label = labels.get(record.kind, "")
        return {
            "after": after,
            "before": before,
            "kinds": kinds,
            "total": sum(k["count"] for k in kinds),
            "records": records,
            "truncated": truncated,
            "log_url": _log_url(after, before),
        }

    def csv_rows(self, data):
        yield ["kind", "actions", "actors"]
        for kind in data["kinds"]:
            yield [kind["key"], kind["count"], kind["actors"]]
        yield []
        yield from self.csv_records(self.records(data["after"], data["before"]), extra="kind")


FAILED_ACCESS_ACTIONS = Q(action__startswith="login") | Q(
    action__in=("permission.denied", "access.allowlist_refused")
)
FAILED_ACCESS_PREFIXES = ("mfa.", "sso.", "token.")


def failed_access_condition() -> Q:
    actions = FAILED_ACCESS_ACTIONS
    for prefix in FAILED_ACCESS_PREFIXES:
        actions |= Q(action__startswith=prefix)
    return Q(outcome__in=(Outcome.FAILURE, Outcome.DENIED)) & actions


def _kind_counts():
    """The columns of the groups: failed sign-ins, lockouts, denials and
    refused second factors / SSO."""
    return {
        "failed_logins": Count("id", filter=Q(action="login.failed")),
        "lockouts": Count("id", filter=Q(action="login.lockout")),
        "denials": Count(
            "id", filter=Q(action__in=("permission.denied", "access.allowlist_refused"))
        ),
        "mfa_sso": Count("id", filter=Q(action__startswith="mfa.") | Q(action__startswith="sso.")),
    }


class FailedAccess(RecordReport):
    slug = "failed_access"
    title = gettext_lazy("Failed and denied access")
    description = gettext_lazy(
        "Failed sign-ins, lockouts, permission denials, IP allowlist refusals and refused "
        "MFA or SSO, grouped by source IP and by user."
    )
    icon = "shield-x"
    template = "audit/reports/failed_access.html"
    # Groups shown per table (the busiest first); the CSV has them all.
    GROUP_LIMIT = 100

    def condition(self) -> Q:
        return failed_access_condition()

    def groups(self, queryset):
        by_ip = (
            queryset.values("ip")
            .annotate(
                count=Count("id"),
                users=Count("actor_name", distinct=True),
                first=Min("time"),
                last=Max("time"),
                **_kind_counts(),
            )
            .order_by("-count", "ip")
        )
        by_user = (
            queryset.values("actor_name", "actor_type")
            .annotate(
                count=Count("id"),
                addresses=Count("ip", distinct=True),
                first=Min("time"),
                last=Max("time"),
                **_kind_counts(),
            )
            .order_by("-count", "actor_name")
        )
        return by_ip, by_user

    def data(self, after, before) -> dict:
        queryset = self.records(after, before)
        by_ip, by_user = self.groups(queryset)
        by_ip = list(by_ip[: self.GROUP_LIMIT + 1])
        by_user = list(by_user[: self.GROUP_LIMIT + 1])
        for group in by_ip:
            group["log_url"] = _log_url(after, before, ip=group["ip"]) if group["ip"] else None
        records, truncated = self.listed(queryset)
        return {
            "after": after,
            "before": before,
            "by_ip": by_ip[: self.GROUP_LIMIT],
            "by_user": by_user[: self.GROUP_LIMIT],
            "groups_truncated": len(by_ip) > self.GROUP_LIMIT or len(by_user) > self.GROUP_LIMIT,
            "total": queryset.count(),
            "records": records,
            "truncated": truncated,
            "log_url": _log_url(after, before, outcome=[Outcome.FAILURE, Outcome.DENIED]),
        }

    def csv_rows(self, data):
        by_ip, by_user = self.groups(self.records(data["after"], data["before"]))
        columns = [
            "events",
            "failed_sign_ins",
            "lockouts",
            "denials",
            "mfa_or_sso",
            "first",
            "last",
        ]

        def counts(group):
            return [
                group["count"],
                group["failed_logins"],
                group["lockouts"],
                group["denials"],
                group["mfa_sso"],
                _iso(group["first"]),
                _iso(group["last"]),
            ]

        yield ["source_ip", "users", *columns]
        for group in by_ip:
            yield [group["ip"], group["users"], *counts(group)]
        yield []
        yield ["user", "addresses", *columns]
        for group in by_user:
            yield [group["actor_name"], group["addresses"], *counts(group)]
        yield []
        yield from self.csv_records(self.records(data["after"], data["before"]))


REPORTS: dict[str, Report] = {
    report.slug: report
    for report in (AccessReview(), ChangeReport(), PrivilegedActions(), FailedAccess())
}


def report_choices() -> list[tuple[str, str]]:
    return [(slug, report.title) for slug, report in REPORTS.items()]


# --- views ------------------------------------------------------------------------


@require_GET
@permission_required(VIEW, raise_exception=True)
def report_view(request, slug: str):
    """Any report for a period: the page, ``format=csv`` or ``format=print``."""
    report = REPORTS.get(slug)
    if report is None:
        raise Http404
    form = PeriodForm(request.GET or None)
    invalid = form.is_bound and not form.is_valid()
    fmt = request.GET.get("format", "")
    if invalid:
        fmt = ""  # the page with the form's messages, never a file of the wrong period
    after, before = form.period()
    data = report.data(after, before)
    if fmt in ("csv", "print"):
        audit.record(
            "audit.report",
            detail={
                "report": slug,
                "format": fmt,
                "after": after.isoformat(),
                "before": before.isoformat(),
            },
        )
    if fmt == "csv":
        response = StreamingHttpResponse(
            report.csv_lines(data), content_type="text/csv; charset=utf-8"
        )
        name = report.filename(after, before, "csv")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response
    query = request.GET.copy()
    query.pop("format", None)
    context = {
        "report": report,
        "form": form,
        "body": report.render_body(data),
        "after": after,
        "before": before,
        "printable": fmt == "print",
        "query": query.urlencode(),
        "breadcrumbs": [
            (_("Audit log"), reverse("audit:record_list")),
            (_("Reports"), reverse("audit:reports")),
            (str(report.title), None),
        ],
    }
    return render(request, "audit/report.html", context, status=400 if invalid else 200)


def access_review(request):
    return report_view(request, "access_review")


def change_report(request):
    return report_view(request, "change_report")


def privileged_actions(request):
    return report_view(request, "privileged_actions")


def failed_access(request):
    return report_view(request, "failed_access")
