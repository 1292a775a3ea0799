"""Settings → Sessions & sign-in, Settings → IP allowlist, and Your account →
Your sessions. Each view says who may use it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_POST

from console.views.generic import (
    ObjectDeleteView,
    ObjectEditView,
    ObjectListView,
    redirect_to,
)
from security import sessions as tracking
from security.decorators import RecentAuthRequiredMixin, require_recent_auth
from security.filtersets import AllowlistEntryFilterSet
from security.forms import AllowlistEntryForm, SessionPolicyForm, check_self_lockout, rules_except
from security.models import AllowlistEntry, SessionPolicy, UserSession
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
