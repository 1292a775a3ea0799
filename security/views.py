"""Settings → Sessions & sign-in, Settings → IP allowlist, and Your account →
Your sessions. Each view says who may use it."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import html
import json
from collections import namedtuple
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.http import (
    Http404,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_GET, require_POST

import audit
from console.choices import UNKNOWN_STYLE
from console.htmx import is_partial
from console.views.generic import (
    ObjectActionView,
    ObjectDeleteView,
    ObjectEditView,
    ObjectListView,
    redirect_to,
)
from security import exports
from security import sessions as tracking
from security.choices import SEVERITY_STYLE, Category, Severity
from security.decorators import RecentAuthRequiredMixin, require_recent_auth
from security.filtersets import AllowlistEntryFilterSet, EventSort, SecurityEventFilterSet
from security.forms import (
    AllowlistEntryForm,
    SavedEventSearchForm,
    SessionPolicyForm,
    check_self_lockout,
    rules_except,
)
from security.models import (
    AllowlistEntry,
    SavedEventSearch,
    SecurityEvent,
    SessionPolicy,
    UserSession,
)
from security.tables import AllowlistEntryTable

SETTINGS_CRUMB = (gettext_lazy("Settings"), "settings")


# --- Settings → Sessions & sign-in ---------------------------------------------


class SessionPolicyView(View):
    """Admins (``security.change_sessionpolicy``) change the policy, after
    re-entering their password; those with ``view_sessionpolicy`` read it."""

    template_name = "security/session_policy.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("security.view_sessionpolicy"):
            raise PermissionDenied
        if request.method == "POST":
            if not request.user.has_perm("security.change_sessionpolicy"):
                raise PermissionDenied
            return require_recent_auth(super().dispatch)(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def render_form(self, form, status=200):
        user = self.request.user
        context = {
            "form": form,
            "can_change": user.has_perm("security.change_sessionpolicy"),
            "lockout": {
                "enabled": settings.AXES_ENABLED,
                "limit": settings.AXES_FAILURE_LIMIT,
                "cool_off_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
                "per": settings.AXES_LOCKOUT_PARAMETERS,
            },
            "can_unlock": user.is_staff and user.has_perm("axes.delete_accessattempt"),
            "breadcrumbs": [
                (_("Settings"), reverse("settings")),
                (_("Sessions & sign-in"), None),
            ],
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_form(SessionPolicyForm(instance=SessionPolicy.current()))

    def post(self, request):
        policy = SessionPolicy.objects.filter(pk=1).first() or SessionPolicy(pk=1)
        form = SessionPolicyForm(instance=policy, data=request.POST)
        if not form.is_valid():
            return self.render_form(form, status=422)
        form.save()
        messages.success(request, _("Saved the session policy."))
        return redirect_to(request, reverse("security:session_policy"))


# --- Settings → IP allowlist ------------------------------------------------------


class AllowlistCrumbs:
    """ "IP allowlist", not the generic ``capitalize()``'s "Ip allowlist"."""

    def breadcrumbs(self, obj=None, *tail):
        crumbs = super().breadcrumbs(obj, *tail)
        plural = str(AllowlistEntry._meta.verbose_name_plural)
        return [(plural if label == plural.capitalize() else label, url) for label, url in crumbs]


class AllowlistEntryListView(AllowlistCrumbs, ObjectListView):
    queryset = AllowlistEntry.objects.all()
    filterset = AllowlistEntryFilterSet
    table = AllowlistEntryTable
    parent_crumbs = (SETTINGS_CRUMB,)


class AllowlistEntryEditView(RecentAuthRequiredMixin, AllowlistCrumbs, ObjectEditView):
    """Add or change an entry; refused when it would lock the admin out."""

    queryset = AllowlistEntry.objects.all()
    form = AllowlistEntryForm
    parent_crumbs = (SETTINGS_CRUMB,)

    def get_form(self, instance, data=None):
        return self.form(instance=instance, data=data, user=self.request.user, request=self.request)

    def render_form(self, form, instance, status=200):
        if not self.creating:
            # An invalid form has changed the instance in memory: title and
            # crumbs name the entry as it is stored.
            instance = self.get_object()
        return super().render_form(form, instance, status=status)

    def post(self, request, *args, **kwargs):
        # One change at a time: two admins saving at once must not together
        # remove the entry that covers either of them.
        with transaction.atomic():
            list(AllowlistEntry.objects.select_for_update().values_list("pk", flat=True))
            return super().post(request, *args, **kwargs)


class AllowlistEntryDeleteView(RecentAuthRequiredMixin, AllowlistCrumbs, ObjectDeleteView):
    queryset = AllowlistEntry.objects.all()
    parent_crumbs = (SETTINGS_CRUMB,)

    def post(self, request, *args, **kwargs):
        with transaction.atomic():
            list(AllowlistEntry.objects.select_for_update().values_list("pk", flat=True))
            obj = self.get_object()
            error = check_self_lockout(request, rules_except(obj.pk))
            if error:
                return self.render_confirm(obj, error=error, status=409)
            return super().post(request, *args, **kwargs)


# --- Your account → Your sessions --------------------------------------------------


def _own_sessions(request):
    return UserSession.objects.filter(user=request.user).active().order_by("-last_active")


def my_sessions(request):
    """Every signed-in user: their own active sessions."""
    current = tracking.current_record_id(request)
    sessions = list(_own_sessions(request))
    for record in sessions:
        record.is_current = str(record.uuid) == current
    sessions.sort(key=lambda s: not s.is_current)
    context = {
        "sessions": sessions,
        "others": sum(1 for s in sessions if not s.is_current),
        "policy": SessionPolicy.current(),
        "breadcrumbs": [(_("Your account"), reverse("account")), (_("Your sessions"), None)],
    }
    return render(request, "security/my_sessions.html", context)


@require_POST
def revoke_session(request, uuid):
    """Every signed-in user, for their own sessions only (others' answer
    404). Ending the current one asks for confirmation first."""
    try:
        record = _own_sessions(request).get(uuid=uuid)
    except UserSession.DoesNotExist:
        raise Http404(_("No such session of yours.")) from None
    if str(record.uuid) == tracking.current_record_id(request):
        if request.POST.get("confirm") != "yes":
            context = {
                "record": record,
                "breadcrumbs": [
                    (_("Your account"), reverse("account")),
                    (_("Your sessions"), reverse("security:my_sessions")),
                    (_("Sign out"), None),
                ],
            }
            return render(request, "security/confirm_sign_out.html", context)
        tracking.close_sockets(request.user.pk, [tracking.key_digest(record.session_key)])
        logout(request)
        return HttpResponseRedirect(reverse(settings.LOGIN_URL))
    tracking.end_sessions([record], reason="revoked by its user")
    messages.success(
        request,
        _("Signed out %(device)s.") % {"device": record.device or _("that session")},
    )
    return redirect_to(request, reverse("security:my_sessions"))


@require_POST
def revoke_other_sessions(request):
    """Every signed-in user: end all their sessions but this one."""
    ended = tracking.end_all_sessions(request.user, except_session_key=request.session.session_key)
    messages.success(request, _("Signed out %(count)d other session(s).") % {"count": ended})
    return redirect_to(request, reverse("security:my_sessions"))


session_policy = SessionPolicyView.as_view()
allowlist_list = AllowlistEntryListView.as_view()
allowlist_edit = AllowlistEntryEditView.as_view()
allowlist_delete = AllowlistEntryDeleteView.as_view()


# --- Security events ---------------------------------------------------------------

EVENTS_PAGE_SIZE = 50
# Beyond this many matches the page says "1,000+": counting is a LIMIT'ed
# subquery, so its cost stays bounded on a table of millions.
EVENTS_COUNT_CAP = 1000
# "More from this source" on an event's page.
SAME_SOURCE_SHOWN = 10
# Page parameters that are not filters: kept by links, left out of exports.
_PAGE_PARAMS = ("older", "newer", "sort")


class BadCursor(ValueError):
    pass


def encode_cursor(event) -> str:
    """An opaque, URL-safe position (occurred_at, id) in the list's order."""
    raw = f"{event.occurred_at.isoformat()}|{event.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str):
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        moment, pk = raw.rsplit("|", 1)
        occurred_at = datetime.fromisoformat(moment)
        if occurred_at.tzinfo is None:
            raise ValueError
        return occurred_at, int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadCursor(value) from None


def _row_compared(operator: str, occurred_at, pk):
    """(occurred_at, id) before (``<``) or after (``>``) the cursor, as one row
    comparison that the (occurred_at, id) index serves; the plain bound on
    ``occurred_at`` lets the (column, occurred_at) indexes bound their scan too."""
    bound = Q(occurred_at__lte=occurred_at) if operator == "<" else Q(occurred_at__gte=occurred_at)
    # As the database stores it (SQLite compares text: no "+00:00" suffix).
    moment = connection.ops.adapt_datetimefield_value(occurred_at)
    return bound & Q(
        RawSQL(
            '("security_securityevent"."occurred_at", "security_securityevent"."id") '
            f"{operator} (%s, %s)",
            [moment, pk],
            output_field=BooleanField(),
        )
    )


def event_page(queryset, params, size: int = EVENTS_PAGE_SIZE) -> dict:
    """One page of events (EventRow) by keyset: no OFFSET, no COUNT.

    ``older=<cursor>``: the rows just older than that position; ``newer=<cursor>``:
    the rows just newer. ``sort=oldest`` shows them oldest first (then "Newer"
    goes forward). The cursor is (occurred_at, id): rows inserted meanwhile
    never shift a page, none is skipped or repeated. Raises BadCursor."""
    oldest_first = params.get("sort") == EventSort.OLDEST
    older, newer = params.get("older"), params.get("newer")
    descending = ("-occurred_at", "-id")
    ascending = ("occurred_at", "id")
    queryset = queryset.values_list(*EVENT_ROW_FIELDS)
    if newer:
        occurred_at, pk = decode_cursor(newer)
        rows = list(
            queryset.filter(_row_compared(">", occurred_at, pk)).order_by(*ascending)[: size + 1]
        )
        more_newer, more_older = len(rows) > size, True
        rows = rows[:size]
    elif older:
        occurred_at, pk = decode_cursor(older)
        rows = list(
            queryset.filter(_row_compared("<", occurred_at, pk)).order_by(*descending)[: size + 1]
        )
        more_older, more_newer = len(rows) > size, True
        rows = rows[:size]
    else:
        order = ascending if oldest_first else descending
        rows = list(queryset.order_by(*order)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        more_older, more_newer = (False, more) if oldest_first else (more, False)
    rows = [EventRow._make(row) for row in rows]
    # Rows come newest first from an "older" query and oldest first from a
    # "newer" one: show them in the order asked for.
    rows.sort(key=lambda e: (e.occurred_at, e.pk), reverse=not oldest_first)
    newest = oldest = None
    if rows:
        newest, oldest = (rows[-1], rows[0]) if oldest_first else (rows[0], rows[-1])
    return {
        "events": rows,
        "older": encode_cursor(oldest) if rows and more_older else None,
        "newer": encode_cursor(newest) if rows and more_newer else None,
        "oldest_first": oldest_first,
    }


# The columns the events table needs (event_rows and the keyset cursor), in
# EventRow's order.
EVENT_ROW_FIELDS = (
    "id",
    "uuid",
    "occurred_at",
    "severity",
    "category",
    "signature",
    "message",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "acknowledged_at",
    "gateway__name",
    "gateway__region__name",
)

_SEVERITY_LABELS = dict(Severity.choices)
_CATEGORY_LABELS = dict(Category.choices)


class RowSeverity:
    """What ``status_badge(row, "severity")`` asks of a row read with
    ``values_list`` (EventRow, the incident page's rows)."""

    __slots__ = ()

    @property
    def severity_style(self):
        return SEVERITY_STYLE.get(self.severity, UNKNOWN_STYLE)

    def get_severity_display(self) -> str:
        return str(_SEVERITY_LABELS.get(self.severity, self.severity))


class EventRow(
    RowSeverity,
    namedtuple(
        "EventRow",
        [*EVENT_ROW_FIELDS[:-2], "gateway_name", "region_name"],
    ),
):
    """One row of the events list, read with ``values_list(*EVENT_ROW_FIELDS)``:
    50 model instances, each with its gateway and region (and each one's
    ``post_init`` receivers, the audit snapshot among them), cost more than
    the query that reads them. Offers what the rows, the keyset cursor and
    ``status_badge`` ask of an event."""

    __slots__ = ()

    @property
    def pk(self):
        return self.id

    def get_category_display(self) -> str:
        return str(_CATEGORY_LABELS.get(self.category, self.category))

    def get_absolute_url(self) -> str:
        return reverse("security:event_detail", kwargs={"uuid": self.uuid})


# An id no event has: reversed once per page, then replaced by each row's.
_URL_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"

# One row of the events table (templates/security/events/partials/event_table.html
# prints them). Built with str.format: 50 rows through the template engine
# cost more than the rest of the page together, and format_html escapes its
# ~20 values per row through Django's lazy-aware escape (bench/events.py).
# Every value that is not our own markup goes through ``_esc`` (stdlib
# html.escape, the same output as django.utils.html.escape).
_EVENT_ROW = (
    "<tr>"
    '<td data-label="{l_time}"><a href="{url}"><time datetime="{iso}" title="{title}">{time}'
    "</time></a></td>"
    '<td data-label="{l_severity}">{badge}</td>'
    '<td data-label="{l_category}">{category}</td>'
    '<td data-label="{l_signature}" class="event-signature"><span class="cell-stack">'
    '<a href="{url}">{signature}</a>{message}</span></td>'
    '<td data-label="{l_source}">{source}</td>'
    '<td data-label="{l_destination}">{destination}</td>'
    '<td data-label="{l_gateway}"><span class="cell-stack">{gateway} '
    '<span class="muted small">{region}</span></span></td>'
    '<td data-label="{l_acknowledged}">{acknowledged}</td>'
    "</tr>"
)
_NOTHING = '<span class="muted">—</span>'
_MESSAGE_CHARS = 120


def row_with_labels(row: str, **labels) -> str:
    """A row template (str.format fields) with the labels of its stacked
    phone cells filled in once: translated, escaped, and safe from format."""
    for key, label in labels.items():
        row = row.replace("{" + key + "}", _esc(label).replace("{", "{{").replace("}", "}}"))
    return row


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _endpoint(address, port) -> str:
    if not address:
        return _NOTHING
    return f"<code>{_esc(address)}{'' if port is None else f':{port}'}</code>"


def _truncated(text: str, size: int = _MESSAGE_CHARS) -> str:
    """As the ``truncatechars`` filter: the ellipsis counts in ``size``."""
    return text if len(text) <= size else text[: size - 1] + "…"


def event_rows(events) -> SafeString:
    """The events table's rows, worked out once in Python: each URL is one
    string replace of a single reverse(), the badge and the category label
    are made once per value, the times formatted with strftime, the labels of
    the stacked phone cells translated and escaped once."""
    from console.templatetags.console import icon, status_badge

    acknowledged = _esc(_("Acknowledged"))
    row = _EVENT_ROW
    row = row_with_labels(
        row,
        l_time=_("Time"),
        l_severity=_("Severity"),
        l_category=_("Category"),
        l_signature=_("Signature"),
        l_source=_("Source"),
        l_destination=_("Destination"),
        l_gateway=_("Gateway"),
        l_acknowledged=_("Acknowledged"),
    )
    acknowledged_badge = (
        f'<span class="badge badge-ok" title="{acknowledged}">{icon("check")}'
        f'<span class="sr-only">{acknowledged}</span></span>'
    )
    no_signature = _esc(_("(no signature)"))
    detail = reverse("security:event_detail", kwargs={"uuid": _URL_PLACEHOLDER})
    badges, categories, rows = {}, {}, []
    zone = timezone.get_current_timezone()
    for event in events:
        moment = event.occurred_at.astimezone(zone)
        title = moment.strftime("%Y-%m-%d %H:%M:%S.%f %Z")
        if event.severity not in badges:
            badges[event.severity] = str(status_badge(event, "severity"))
        if event.category not in categories:
            categories[event.category] = _esc(event.get_category_display())
        message = event.message
        rows.append(
            row.format(
                url=detail.replace(_URL_PLACEHOLDER, str(event.uuid)),
                iso=moment.isoformat(),
                title=title,
                time=title.partition(".")[0],  # "%Y-%m-%d %H:%M:%S"
                badge=badges[event.severity],
                category=categories[event.category],
                signature=_esc(event.signature) if event.signature else no_signature,
                message=f'<span class="muted small">{_esc(_truncated(message))}</span>'
                if message
                else "",
                source=_endpoint(event.src_ip, event.src_port),
                destination=_endpoint(event.dst_ip, event.dst_port),
                gateway=_esc(event.gateway_name),
                region=_esc(event.region_name),
                acknowledged=acknowledged_badge if event.acknowledged_at else "",
            )
        )
    return mark_safe("\n".join(rows))  # every value above escaped by _esc


EVENT_FILTERS_TEMPLATE = "security/events/partials/event_filters.html"
EVENT_FILTERS_CACHE_SECONDS = 600


@functools.cache
def _event_filters_version() -> str:
    """The filter bar template's own version: a deploy that changes it never
    serves a bar cached by the previous one."""
    from django.template.loader import get_template

    source = get_template(EVENT_FILTERS_TEMPLATE).template.source
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def event_filters_html(request, filterset, context) -> SafeString:
    """The filter bar, from the cache when the same bar was drawn before.

    Its ~30 form widgets go through Django's template-based widget rendering,
    a fixed cost of every full page. The bar depends only on the language,
    the query string (values shown, "Clear filters", the sort kept), and the
    regions the user may pick — read here (the query the bar's region menu
    would run anyway) and part of the key, so a user never sees another's
    regions and a renamed region shows at once."""
    from django.core.cache import cache
    from django.template.loader import render_to_string
    from django.utils.translation import get_language

    regions = list(filterset.form.fields["region"].queryset.values_list("slug", "name"))
    params = sorted(
        (key, value)
        for key, values in request.GET.lists()
        if key not in ("older", "newer")
        for value in values
    )
    identity = json.dumps([_event_filters_version(), get_language(), request.path, params, regions])
    key = "security:event-filters:" + hashlib.sha256(identity.encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = render_to_string(EVENT_FILTERS_TEMPLATE, context, request=request)
        cache.set(key, html, EVENT_FILTERS_CACHE_SECONDS)
    return mark_safe(html)  # our template's output, as rendered


def capped_count(queryset, cap: int = EVENTS_COUNT_CAP) -> tuple[int, bool]:
    """How many rows match, up to ``cap``: (count, more than cap)."""
    count = queryset.order_by()[: cap + 1].count()
    return min(count, cap), count > cap


def _query(params, drop=(), **changes) -> str:
    merged = {k: v for k, v in params.lists() if k not in (*drop, *changes)}
    merged.update({k: [v] for k, v in changes.items() if v not in (None, "")})
    return "?" + urlencode(merged, doseq=True) if merged else "?"


def filter_query(params) -> str:
    """The filter part of a query string (no cursor, no sort), normalised."""
    pairs = {(k, v) for k, values in params.lists() if k not in _PAGE_PARAMS for v in values if v}
    return urlencode(sorted(pairs))


def _events(user, action: str = "view"):
    return SecurityEvent.objects.restrict(user, action)


class SecurityEventMixin:
    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(f"security.{self.action}_securityevent"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    action = "view"

    def filtered(self):
        queryset = _events(self.request.user).select_related("gateway", "gateway__region")
        filterset = SecurityEventFilterSet(
            self.request.GET, queryset=queryset, request=self.request
        )
        valid = filterset.is_valid()
        return filterset, (filterset.qs if valid else queryset.none()), valid


# The filters shown in the bar; the others (signature, port…) open under "More filters".
EVENT_BAR_FIELDS = ("q", "range", "severity", "category", "region")
EVENT_MORE_FIELDS = (
    "since",
    "until",
    "gateway",
    "src",
    "dst",
    "port",
    "signature",
    "acknowledged",
    "incident",
)


class SecurityEventListView(SecurityEventMixin, View):
    """Security events, newest first, filtered and keyset-paginated."""

    def get(self, request):
        filterset, queryset, valid = self.filtered()
        errors = []
        try:
            page = event_page(queryset, request.GET)
        except BadCursor:
            errors.append(_("That page link is not valid any more: showing the first page."))
            page = event_page(queryset, QueryDict(filter_query(request.GET)))
            valid = False
        count, more = capped_count(queryset, EVENTS_COUNT_CAP)
        saved = SavedEventSearch.objects.filter(user=request.user)
        first_live_page = not page["oldest_first"] and not request.GET.get("older")
        first_live_page = first_live_page and not request.GET.get("newer")
        first_live_page = first_live_page and not request.GET.get("until")
        context = {
            "filterset": filterset,
            "bar_fields": [filterset.form[name] for name in EVENT_BAR_FIELDS],
            "more_fields": [filterset.form[name] for name in EVENT_MORE_FIELDS],
            "more_open": any(request.GET.get(name) for name in EVENT_MORE_FIELDS),
            "filter_active": bool(filter_query(request.GET)),
            "page": page,
            "rows": event_rows(page["events"]),
            "count": count,
            "count_more": more,
            "count_cap": EVENTS_COUNT_CAP,
            "errors": errors,
            "older_url": _query(request.GET, drop=_PAGE_PARAMS[:2], older=page["older"])
            if page["older"]
            else None,
            "newer_url": _query(request.GET, drop=_PAGE_PARAMS[:2], newer=page["newer"])
            if page["newer"]
            else None,
            "sort_url": _query(
                request.GET,
                drop=_PAGE_PARAMS,
                sort=None if page["oldest_first"] else EventSort.OLDEST,
            ),
            "live_refresh": first_live_page,
            "export_csv": reverse("security:event_export") + _query(request.GET, format="csv"),
            "export_jsonl": reverse("security:event_export") + _query(request.GET, format="jsonl"),
            "saved_searches": saved,
            "current_query": filter_query(request.GET),
            "breadcrumbs": [(_("Security events"), None)],
        }
        if is_partial(request):
            template = "security/events/partials/event_results.html"
        else:
            template = "security/events/event_list.html"
            context["filters_html"] = event_filters_html(request, filterset, context)
        response = render(request, template, context, status=200 if valid else 400)
        patch_vary_headers(response, ("HX-Request",))
        return response


class SecurityEventDetailView(SecurityEventMixin, View):
    def get(self, request, uuid):
        event = get_event(request.user, uuid, "view")
        same_source = []
        if event.src_ip:
            same_source = list(
                _events(request.user)
                .filter(src_ip=event.src_ip)
                .exclude(pk=event.pk)
                .select_related("gateway")
                .order_by("-occurred_at", "-id")[:SAME_SOURCE_SHOWN]
            )
        list_url = reverse("security:event_list")
        context = {
            "object": event,
            "details_json": json.dumps(event.details, indent=2, sort_keys=True, ensure_ascii=False),
            "same_source": same_source,
            "same_source_url": f"{list_url}?{urlencode({'src': event.src_ip})}"
            if event.src_ip
            else None,
            "can_change": _events(request.user, "change").filter(pk=event.pk).exists()
            if request.user.has_perm("security.change_securityevent")
            else False,
            "can_view_gateway": request.user.has_perm("gateways.view_gateway"),
            "breadcrumbs": [(_("Security events"), list_url), (str(event), None)],
        }
        return render(request, "security/events/event_detail.html", context)


def get_event(user, uuid, action: str) -> SecurityEvent:
    try:
        return (
            _events(user, action)
            .select_related("gateway", "gateway__region", "acknowledged_by", "incident")
            .get(uuid=uuid)
        )
    except SecurityEvent.DoesNotExist:
        raise Http404(_("No security event matches that id.")) from None


class SecurityEventAcknowledgeView(ObjectActionView):
    """Mark an event as looked at (or take the mark back): Operators
    (``security.change_securityevent``), within their regions."""

    queryset = SecurityEvent.objects.select_related("gateway")
    acknowledge = True

    def list_url(self):
        return reverse("security:event_list")

    @property
    def title(self):
        return _("Acknowledge %(obj)s") if self.acknowledge else _("Unacknowledge %(obj)s")

    @property
    def explanation(self):
        if self.acknowledge:
            return _("Marks the event as looked at, with your name and the time.")
        return _("Takes the acknowledgement back: the event needs a look again.")

    @property
    def button_label(self):
        return _("Acknowledge") if self.acknowledge else _("Unacknowledge")

    @property
    def button_icon(self):
        return "check" if self.acknowledge else "undo-2"

    def perform(self, obj):
        if self.acknowledge:
            # Conditional: a second click (or a retried POST) keeps the first mark.
            SecurityEvent.objects.filter(pk=obj.pk, acknowledged_at__isnull=True).update(
                acknowledged_at=timezone.now(), acknowledged_by=self.request.user
            )
            messages.success(self.request, _("Acknowledged the event."))
        else:
            SecurityEvent.objects.filter(pk=obj.pk).update(
                acknowledged_at=None, acknowledged_by=None
            )
            messages.success(self.request, _("The event is no longer acknowledged."))
        return redirect_to(self.request, obj.get_absolute_url())


@require_GET
def export_events(request):
    """The list's current filter as CSV or JSON Lines, streamed; recorded in
    the audit log before the first byte. Anyone who may read the events may
    export what they see (the same region scope)."""
    if not request.user.has_perm("security.view_securityevent"):
        raise PermissionDenied
    filterset = SecurityEventFilterSet(
        request.GET, queryset=_events(request.user).order_by("-occurred_at", "-id"), request=request
    )
    if not filterset.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.form.errors.items())
        return HttpResponseBadRequest(errors, content_type="text/plain; charset=utf-8")
    fmt = request.GET.get("format", "csv")
    if fmt not in exports.FORMATS:
        return HttpResponseBadRequest(
            _("format: csv or jsonl."), content_type="text/plain; charset=utf-8"
        )
    # The filters as asked (the same words as the list's URL), for the record.
    filters = {
        key: [v for v in values if v]
        for key, values in request.GET.lists()
        if key not in (*_PAGE_PARAMS, "format") and any(values)
    }
    audit.record(
        "securityevent.export",
        object_type=SecurityEvent._meta.label_lower,
        detail={"format": fmt, "filters": filters},
    )
    response = StreamingHttpResponse(
        exports.stream(filterset.qs, fmt), content_type=exports.FORMATS[fmt]
    )
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(fmt)}"'
    response["Cache-Control"] = "no-store"
    return response


# --- Saved searches (each user's own) --------------------------------------------


@require_POST
def save_event_search(request):
    if not request.user.has_perm("security.view_securityevent"):
        raise PermissionDenied
    form = SavedEventSearchForm(request.POST)
    list_url = reverse("security:event_list")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        query = request.POST.get("query", "")
        return HttpResponseRedirect(f"{list_url}?{query}" if query else list_url)
    query = filter_query(QueryDict(form.cleaned_data["query"]))
    search, created = SavedEventSearch.objects.update_or_create(
        user=request.user, name=form.cleaned_data["name"], defaults={"query": query}
    )
    if created:
        messages.success(request, _("Saved the search “%(name)s”.") % {"name": search.name})
    else:
        messages.success(request, _("Updated the search “%(name)s”.") % {"name": search.name})
    return HttpResponseRedirect(search.get_absolute_url())


@require_POST
def delete_event_search(request, uuid):
    deleted, _rows = SavedEventSearch.objects.filter(user=request.user, uuid=uuid).delete()
    if not deleted:
        raise Http404(_("No saved search of yours has that id."))
    messages.success(request, _("Deleted the saved search."))
    return redirect_to(request, reverse("security:event_list"))


event_list = SecurityEventListView.as_view()
event_detail = SecurityEventDetailView.as_view()
event_acknowledge = SecurityEventAcknowledgeView.as_view(acknowledge=True)
event_unacknowledge = SecurityEventAcknowledgeView.as_view(acknowledge=False)
