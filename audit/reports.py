"""Compliance reports. The access review: every account with its roles,
regions, MFA status, last sign-in, directory source and API keys (with their
last use), plus its sign-ins and denials in the chosen period from the audit
log — as a page, a CSV file and a printable page (clean PDF from the browser)."""

from __future__ import annotations

import csv
from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

import audit
from audit.filtersets import DateTimeInput
from audit.models import AuditRecord

VIEW = "audit.view_auditrecord"


class PeriodForm(forms.Form):
    after = forms.DateTimeField(label=gettext_lazy("From"), required=False, widget=DateTimeInput())
    before = forms.DateTimeField(
        label=gettext_lazy("Until"), required=False, widget=DateTimeInput()
    )

    def period(self):
        now = timezone.now()
        data = self.cleaned_data if self.is_valid() else {}
        before = data.get("before") or now
        after = data.get("after") or before - timedelta(days=90)
        return after, before


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


CSV_COLUMNS = (
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


def _csv(rows, after, before) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="access-review-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(["# access review", after.isoformat(), before.isoformat()])
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        keys = "; ".join(
            f"{k['name']} [{k['status']}] last used "
            f"{k['last_used'].isoformat() if k['last_used'] else 'never'}"
            for k in row["api_keys"]
        )
        writer.writerow(
            [
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
        )
    return response


@require_GET
@permission_required(VIEW, raise_exception=True)
def access_review(request):
    form = PeriodForm(request.GET or None)
    after, before = form.period()
    rows = access_review_rows(after, before)
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "print"):
        audit.record("audit.report", detail={"report": "access_review", "format": fmt})
    if fmt == "csv":
        return _csv(rows, after, before)
    context = {
        "form": form,
        "rows": rows,
        "after": after,
        "before": before,
        "printable": fmt == "print",
        "query": request.GET.urlencode(),
        "breadcrumbs": [(_("Audit log"), reverse("audit:record_list")), (_("Access review"), None)],
    }
    return render(request, "audit/access_review.html", context)
