"""The audit pages: the log (filtered, keyset-paginated), one record with its
diff, the chain check, and exports (CSV / JSON Lines, streamed)."""

from __future__ import annotations

import csv
import json

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

import audit
from audit.chain import HASHED_FIELDS, chain_head, record_content, verify_chain
from audit.choices import Outcome
from audit.filtersets import AuditRecordFilterSet
from audit.forms import ReportScheduleForm
from audit.models import AuditRecord, ReportSchedule
from console.htmx import is_partial
from console.views.generic import (
    ObjectActionView,
    ObjectDeleteView,
    ObjectEditView,
    redirect_to,
)

PAGE_SIZE = 50
VIEW = "audit.view_auditrecord"
EXPORT = "audit.export_auditrecord"


def _filtered(request):
    filterset = AuditRecordFilterSet(request.GET, queryset=AuditRecord.objects.all())
    valid = filterset.is_valid()
    return filterset, (filterset.qs if valid else AuditRecord.objects.none()), valid


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def keyset_page(queryset, params, size: int = PAGE_SIZE) -> dict:
    """One page, newest first, by id: ``older=<id>`` for the page after the
    row with that id, ``newer=<id>`` for the page before it. No COUNT and no
    OFFSET: the same cost on the first page and the millionth."""
    older, newer = _int(params.get("older")), _int(params.get("newer"))
    queryset = queryset.select_related(None)
    if newer is not None:
        rows = list(queryset.filter(id__gt=newer).order_by("id")[: size + 1])
        has_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        has_older = True
    else:
        if older is not None:
            queryset = queryset.filter(id__lt=older)
        rows = list(queryset.order_by("-id")[: size + 1])
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = older is not None
    return {
        "records": rows,
        "older": rows[-1].pk if rows and has_older else None,
        "newer": rows[0].pk if rows and has_newer else None,
    }


def _query(params, **changes) -> str:
    merged = {k: v for k, v in params.lists() if k not in ("older", "newer", *changes)}
    merged.update({k: [v] for k, v in changes.items() if v is not None})
    return "?" + urlencode(merged, doseq=True)


@require_GET
@permission_required(VIEW, raise_exception=True)
def record_list(request):
    filterset, queryset, valid = _filtered(request)
    page = keyset_page(queryset, request.GET)
    context = {
        "filterset": filterset,
        "page_fields": [filterset.form[name] for name in filterset.PAGE_FIELDS],
        "hidden_fields": [
            filterset.form[name]
            for name in filterset.form.fields
            if name not in filterset.PAGE_FIELDS and request.GET.get(name)
        ],
        "filter_active": any(v for k, v in request.GET.items() if k in filterset.filters),
        "page": page,
        "older_url": _query(request.GET, older=page["older"]) if page["older"] else None,
        "newer_url": _query(request.GET, newer=page["newer"]) if page["newer"] else None,
        "export_csv": reverse("audit:export") + _query(request.GET, format="csv"),
        "export_jsonl": reverse("audit:export") + _query(request.GET, format="jsonl"),
        "can_export": request.user.has_perm(EXPORT),
        "head": chain_head(),
        "breadcrumbs": [(_("Audit log"), None)],
    }
    partial = is_partial(request)
    template = "audit/partials/record_table.html" if partial else "audit/record_list.html"
    response = render(request, template, context, status=200 if valid else 400)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _field_label(object_type: str, name: str) -> str:
    try:
        model = apps.get_model(object_type) if "." in object_type else None
        if model is not None:
            return str(model._meta.get_field(name).verbose_name).capitalize()
    except (LookupError, FieldDoesNotExist, ValueError):
        pass
    return name.replace("_", " ").capitalize()


def diff_rows(entry: AuditRecord) -> list[dict]:
    rows = []
    for name, change in sorted((entry.changes or {}).items()):
        label = _field_label(entry.object_type, name)
        if isinstance(change, dict):
            rows.append(
                {
                    "label": label,
                    "name": name,
                    "added": change.get("added", []),
                    "removed": change.get("removed", []),
                    "m2m": True,
                }
            )
        elif isinstance(change, list) and len(change) == 2:
            rows.append({"label": label, "name": name, "before": change[0], "after": change[1]})
        else:
            rows.append({"label": label, "name": name, "before": None, "after": change})
    return rows


def object_url(entry: AuditRecord) -> str | None:
    """The object's page, when it still exists and has one."""
    if not entry.object_type or not entry.object_id:
        return None
    try:
        model = apps.get_model(entry.object_type)
    except (LookupError, ValueError):
        return None
    field = "uuid" if any(f.name == "uuid" for f in model._meta.fields) else "pk"
    obj = model._default_manager.filter(**{field: entry.object_id}).first()
    if obj is None or not hasattr(obj, "get_absolute_url"):
        return None
    try:
        return obj.get_absolute_url()
    except Exception:
        return None


@require_GET
@permission_required(VIEW, raise_exception=True)
def record_detail(request, pk: int):
    entry = AuditRecord.objects.filter(pk=pk).first()
    if entry is None:
        raise Http404(_("No audit record has that number."))
    list_url = reverse("audit:record_list")
    related = {}
    if entry.object_type and entry.object_id:
        related["object"] = (
            list_url
            + "?"
            + urlencode({"object_type": entry.object_type, "object_id": entry.object_id})
        )
    if entry.actor_user_id:
        related["actor"] = list_url + "?" + urlencode({"actor": entry.actor_name})
    if entry.request_id:
        related["request"] = list_url + "?" + urlencode({"request_id": entry.request_id})
    context = {
        "record": entry,
        "diff": diff_rows(entry),
        "detail": sorted((entry.detail or {}).items()),
        "related": related,
        "object_url": object_url(entry),
        "breadcrumbs": [(_("Audit log"), list_url), (f"#{entry.pk}", None)],
    }
    return render(request, "audit/record_detail.html", context)


@require_POST
@permission_required(VIEW, raise_exception=True)
def verify(request):
    """Check the whole chain now; the answer names the first broken link."""
    result = verify_chain()
    audit.record(
        "audit.verify",
        detail={"checked": result.checked, "summary": result.summary()},
        outcome=Outcome.SUCCESS if result.ok else Outcome.FAILURE,
    )
    broken_url = (
        reverse("audit:record_detail", kwargs={"pk": result.broken_id})
        if result.broken_id
        else None
    )
    if is_partial(request):
        return render(
            request,
            "audit/partials/verify_result.html",
            {"result": result, "broken_url": broken_url},
        )
    (messages.success if result.ok else messages.error)(request, result.summary())
    return HttpResponseRedirect(reverse("audit:record_list"))


# --- export --------------------------------------------------------------------------------

# An exported record is everything hashed plus its own hash (the link fields
# last), so a reader can re-check the chain from the file alone.
EXPORT_FIELDS = (*(f for f in HASHED_FIELDS if f != "prev_hash"), "prev_hash", "hash")


class _Echo:
    def write(self, value):
        return value


def export_rows(queryset, chunk_size: int = 1000):
    """Records as dicts (the hashed content plus the hash), oldest first,
    read with a server-side cursor: memory does not grow with the export."""
    for entry in queryset.order_by("id").iterator(chunk_size=chunk_size):
        row = record_content(entry)
        row["hash"] = entry.hash
        yield row


def _jsonl(queryset, head: dict, filters: dict):
    yield json.dumps({"type": "export", "chain_head": head, "filters": filters}) + "\n"
    for row in export_rows(queryset):
        yield json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"


def _csv(queryset, head: dict):
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_FIELDS)
    for row in export_rows(queryset):
        yield writer.writerow(
            [
                json.dumps(row[f], sort_keys=True) if f in ("changes", "detail") else row[f]
                for f in EXPORT_FIELDS
            ]
        )
    # The last line: the chain head when the export began.
    yield writer.writerow(["# chain head", head["seq"], head["hash"]])


@require_GET
@permission_required(EXPORT, raise_exception=True)
def export(request):
    filterset, queryset, valid = _filtered(request)
    if not valid:
        return render(
            request,
            "audit/record_list.html",
            {"filterset": filterset, "page": {"records": []}, "breadcrumbs": []},
            status=400,
        )
    fmt = request.GET.get("format", "jsonl")
    if fmt not in ("csv", "jsonl"):
        fmt = "jsonl"
    current = chain_head()
    head = {"seq": current.seq, "hash": current.hash}
    filters = {k: v for k, v in filterset.form.cleaned_data.items() if v not in (None, "", [])}
    filters = json.loads(json.dumps(filters, default=str))
    # Recorded (and committed) before the first byte goes out.
    audit.record("audit.export", detail={"format": fmt, "filters": filters, "chain_head": head})
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        response = StreamingHttpResponse(_csv(queryset, head), content_type="text/csv")
    else:
        response = StreamingHttpResponse(
            _jsonl(queryset, head, filters), content_type="application/x-ndjson"
        )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    response["X-Audit-Chain-Head"] = f"{head['seq']}:{head['hash']}"
    response["Cache-Control"] = "no-store"
    return response


# --- compliance reports: the hub and report schedules -------------------------------


@require_GET
@permission_required(VIEW, raise_exception=True)
def reports_hub(request):
    """The four reports, and the schedules that email them."""
    from audit.reports import REPORTS

    schedules = None
    if request.user.has_perm("audit.view_reportschedule"):
        schedules = list(
            ReportSchedule.objects.restrict(request.user, "view")
            .select_related("created_by")
            .order_by("name")
        )
    context = {
        "reports": REPORTS.values(),
        "schedules": schedules,
        "can_add_schedule": request.user.has_perm("audit.add_reportschedule"),
        "can_change_schedule": request.user.has_perm("audit.change_reportschedule"),
        "can_delete_schedule": request.user.has_perm("audit.delete_reportschedule"),
        "breadcrumbs": [(_("Audit log"), reverse("audit:record_list")), (_("Reports"), None)],
    }
    return render(request, "audit/reports_hub.html", context)


class ScheduleViewMixin:
    """Schedules live on the Reports page: it is their list."""

    queryset = ReportSchedule.objects.all()
    parent_crumbs = ((gettext_lazy("Audit log"), "audit:record_list"),)

    def list_url(self) -> str:
        return reverse("audit:reports") + "#schedules"


class ReportScheduleEditView(ScheduleViewMixin, ObjectEditView):
    form = ReportScheduleForm

    def post(self, request, *args, **kwargs):
        if self.creating:
            return super().post(request, *args, **kwargs)
        # Two edits at once: the second waits and sees the first one's values.
        with transaction.atomic():
            ReportSchedule.objects.select_for_update().filter(uuid=kwargs["uuid"]).first()
            return super().post(request, *args, **kwargs)


class ReportScheduleDeleteView(ScheduleViewMixin, ObjectDeleteView):
    pass


class ReportScheduleSendView(ScheduleViewMixin, ObjectActionView):
    """Send the schedule's report now, for the period it would cover today;
    the regular runs go on as planned."""

    title = gettext_lazy("Send %(obj)s now?")
    explanation = gettext_lazy(
        "The report goes out now to every recipient of the schedule, for the period it "
        "would cover today. The schedule's next regular run does not change."
    )
    button_label = gettext_lazy("Send now")
    button_icon = "send"

    def perform(self, obj):
        from audit.middleware import first_in_window
        from audit.report_schedules import period_for, send_report

        # A double click or a retried POST sends one email, not two.
        if not first_in_window(f"report-send:{obj.uuid}", seconds=30):
            messages.info(self.request, _("%(obj)s was sent a moment ago.") % {"obj": obj})
            return redirect_to(self.request, self.list_url())
        after, before = period_for(obj.period, timezone.now())
        if send_report(obj, after, before):
            messages.success(
                self.request,
                _("Sent %(obj)s: %(result)s")
                % {
                    "obj": obj,
                    "result": obj.last_result,
                },
            )
        else:
            messages.error(
                self.request,
                _("%(obj)s could not be sent: %(result)s")
                % {
                    "obj": obj,
                    "result": obj.last_result,
                },
            )
        return redirect_to(self.request, self.list_url())


reportschedule_edit = ReportScheduleEditView.as_view()
reportschedule_delete = ReportScheduleDeleteView.as_view()
reportschedule_send = ReportScheduleSendView.as_view()
