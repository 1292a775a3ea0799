"""Settings → Users and Settings → Roles, and the invitation accept page."""

from __future__ import annotations

from allauth.account.internal.flows.login import record_authentication
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import SetPasswordForm
from django.db import transaction
from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accounts.filtersets import RoleFilterSet, UserFilterSet
from accounts.forms import InviteForm, RoleForm, UserAccessForm, console_permissions, perm_code
from accounts.invitations import invite
from accounts.mfa.policy import mfa_required_for, reset_mfa, user_devices
from accounts.models import Invitation, Role, User
from accounts.models.invitations import invitation_event
from accounts.tables import RoleTable, UserTable, user_state
from console.querysets import RestrictedQuerySet
from console.views import generic
from security.decorators import RecentAuthRequiredMixin
from security.sessions import end_all_sessions

SETTINGS = ((gettext_lazy("Settings"), "settings"),)


class SensitiveAction(RecentAuthRequiredMixin):
    """Changing who may do what asks for the password again when the last
    sign-in is older than the re-authentication window (Settings → Sessions);
    the form can be read first, the POST is replayed after the password."""

    recent_auth_methods = ("POST",)


# Users are not region-scoped: who may manage users is decided by the
# accounts permissions alone (docs/roles.md).
_users = RestrictedQuerySet(User)


def with_mfa_status(queryset):
    """Annotate ``mfa_on``: a confirmed second factor other than recovery
    codes, in one subquery per device kind instead of a query per row."""
    from django.db.models import Exists, OuterRef, Q
    from django_otp import device_classes
    from django_otp.plugins.otp_static.models import StaticDevice

    condition = Q()
    for model in device_classes():
        if issubclass(model, StaticDevice):
            continue
        condition |= Q(Exists(model.objects.filter(user=OuterRef("pk"), confirmed=True)))
    return queryset.annotate(mfa_on=condition) if condition else queryset


class UserListView(generic.ObjectListView):
    queryset = with_mfa_status(_users)
    filterset = UserFilterSet
    table = UserTable
    template_name = "accounts/user_list.html"
    parent_crumbs = SETTINGS


class UserDetailView(generic.ObjectDetailView):
    queryset = _users.prefetch_related("groups__role__regions", "regions", "invitations")
    template_name = "accounts/user_detail.html"
    parent_crumbs = SETTINGS

    def get_extra_context(self, obj):
        label, colour = user_state(obj)
        roles = [(group, getattr(group, "role", None)) for group in obj.groups.all()]
        return {
            "mfa_devices": user_devices(obj),
            "mfa_required": mfa_required_for(obj),
            "state_label": label,
            "state_colour": colour,
            "roles": roles,
            # From the prefetch: no query per role.
            "scoped_roles": [role for _, role in roles if role and role.regions.all()],
            "open_invitation": next(
                (i for i in obj.invitations.all() if i.accepted is None and i.revoked is None),
                None,
            ),
            "is_self": obj.pk == self.request.user.pk,
            # Users are deactivated, not deleted: their history must stay.
            "can_delete": False,
        }


class UserEditView(SensitiveAction, generic.ObjectEditView):
    queryset = _users
    form = UserAccessForm
    parent_crumbs = SETTINGS


class UserInviteView(SensitiveAction, generic.ObjectEditView):
    """Invite: creates the user (inactive) with their roles and regions, and
    emails a one-time link to choose a password."""

    queryset = _users
    form = InviteForm
    template_name = "accounts/user_invite.html"
    parent_crumbs = SETTINGS

    def post(self, request, *args, **kwargs):
        form = self.get_form(User(), data=request.POST)
        if not form.is_valid():
            return self.render_form(form, User(), status=422)
        with transaction.atomic():
            user = form.save()
            invitation, link, sent = invite(request, user)
        return render_invitation(self, user, invitation, link, sent)


def render_invitation(view, user, invitation, link, sent):
    context = view.base_context(
        object=user,
        link=link,
        sent=sent,
        expires=invitation.expires,
        breadcrumbs=view.breadcrumbs(user, _("Invitation")),
    )
    response = render(view.request, "accounts/invitation_sent.html", context)
    response["Cache-Control"] = "no-store"  # the link is a secret
    return response


class UserResendInvitationView(generic.ObjectActionView):
    queryset = _users
    parent_crumbs = SETTINGS
    title = gettext_lazy("Send a new invitation to %(obj)s?")
    explanation = gettext_lazy("A new one-time link is emailed; the previous link stops working.")
    button_label = gettext_lazy("Send new invitation")
    button_icon = "mail"

    def perform(self, obj):
        if obj.is_active or obj.last_login is not None:
            messages.warning(self.request, _("%(obj)s has already joined.") % {"obj": obj})
            return generic.redirect_to(self.request, obj.get_absolute_url())
        invitation, link, sent = invite(self.request, obj)
        return render_invitation(self, obj, invitation, link, sent)


class UserResetMfaView(SensitiveAction, generic.ObjectActionView):
    queryset = _users
    parent_crumbs = SETTINGS
    title = gettext_lazy("Reset the second factor of %(obj)s?")
    explanation = gettext_lazy(
        "Their authenticator apps, security keys and recovery codes are removed. If MFA is "
        "required for them, they must set up a new one at their next sign-in. Use this when "
        "someone lost their phone."
    )
    button_label = gettext_lazy("Reset MFA")
    button_icon = "rotate-ccw"
    danger = True

    def perform(self, obj):
        reset_mfa(obj, actor=self.request.user, request=self.request)
        # A session that passed the removed factor must not stay trusted.
        ended = end_all_sessions(obj) if obj.pk != self.request.user.pk else 0
        messages.success(
            self.request,
            _("Reset the second factor of %(obj)s; %(n)d session(s) signed out.")
            % {"obj": obj, "n": ended},
        )
        return generic.redirect_to(self.request, obj.get_absolute_url())


class UserSignOutView(SensitiveAction, generic.ObjectActionView):
    queryset = _users
    parent_crumbs = SETTINGS
    title = gettext_lazy("Sign %(obj)s out everywhere?")
    explanation = gettext_lazy(
        "Every session of theirs ends at once, in every browser, and their open pages close. "
        "They can sign in again; to stop that, deactivate them instead."
    )
    button_label = gettext_lazy("Sign out everywhere")
    button_icon = "log-out"
    danger = True

    def perform(self, obj):
        if obj.pk == self.request.user.pk:
            messages.error(
                self.request, _("To end your own sessions, use Your account → Sessions.")
            )
            return generic.redirect_to(self.request, obj.get_absolute_url())
        ended = end_all_sessions(obj)
        messages.success(
            self.request,
            _("Signed %(obj)s out of %(n)d session(s).") % {"obj": obj, "n": ended},
        )
        return generic.redirect_to(self.request, obj.get_absolute_url())


class UserDeactivateView(SensitiveAction, generic.ObjectActionView):
    queryset = _users
    parent_crumbs = SETTINGS
    title = gettext_lazy("Deactivate %(obj)s?")
    explanation = gettext_lazy(
        "They are signed out everywhere at once and can no longer sign in or use the API. "
        "Their history stays. You can reactivate them later."
    )
    button_label = gettext_lazy("Deactivate")
    button_icon = "user-x"
    danger = True

    def perform(self, obj):
        if obj.pk == self.request.user.pk:
            messages.error(self.request, _("You cannot deactivate yourself."))
            return generic.redirect_to(self.request, obj.get_absolute_url())
        if obj.is_superuser and not self.request.user.is_superuser:
            messages.error(self.request, _("Only a superuser can deactivate a superuser."))
            return generic.redirect_to(self.request, obj.get_absolute_url())
        with transaction.atomic():
            obj.is_active = False
            obj.save(update_fields=["is_active"])
            revoked = Invitation.objects.filter(user=obj).usable().update(revoked=timezone.now())
            if revoked:
                invitation_event.send(sender=Invitation, user=obj, action="revoked", count=revoked)
        end_all_sessions(obj)
        messages.success(self.request, _("Deactivated %(obj)s.") % {"obj": obj})
        return generic.redirect_to(self.request, obj.get_absolute_url())


class UserActivateView(SensitiveAction, generic.ObjectActionView):
    queryset = _users
    parent_crumbs = SETTINGS
    title = gettext_lazy("Reactivate %(obj)s?")
    explanation = gettext_lazy("They can sign in again with their roles and regions as they are.")
    button_label = gettext_lazy("Reactivate")
    button_icon = "user-check"

    def perform(self, obj):
        if not obj.has_usable_password() and obj.last_login is None:
            messages.warning(
                self.request,
                _("%(obj)s never accepted their invitation: send a new one instead.")
                % {"obj": obj},
            )
            return generic.redirect_to(self.request, obj.get_absolute_url())
        obj.is_active = True
        obj.save(update_fields=["is_active"])
        messages.success(self.request, _("Reactivated %(obj)s.") % {"obj": obj})
        return generic.redirect_to(self.request, obj.get_absolute_url())


@method_decorator(login_not_required, name="dispatch")
class InvitationAcceptView(View):
    """Public: the invited person chooses a password with the link's token,
    then is signed in (and sent to set up MFA where their roles need it)."""

    template_name = "accounts/invitation_accept.html"

    def get_invitation(self):
        return Invitation.find(self.kwargs["token"])

    def render(self, form, invitation, status=200):
        response = render(
            self.request,
            self.template_name,
            {"form": form, "invitation": invitation},
            status=status,
        )
        response["Cache-Control"] = "no-store"
        # The URL holds the token: the site-wide "same-origin" referrer policy
        # keeps it from other sites ("no-referrer" would make the browser send
        # Origin: null with the form, which CSRF protection rightly refuses).
        return response

    def get(self, request, token):
        invitation = self.get_invitation()
        if invitation is None:
            return self.render(None, None, status=410)
        return self.render(SetPasswordForm(invitation.user), invitation)

    def post(self, request, token):
        invitation = self.get_invitation()
        if invitation is None:
            return self.render(None, None, status=410)
        user = invitation.user
        form = SetPasswordForm(user, data=request.POST)
        if not form.is_valid():
            return self.render(form, invitation, status=422)
        with transaction.atomic():
            # Claim the invitation: a second submit of the same link loses.
            claimed = (
                Invitation.objects.usable().filter(pk=invitation.pk).update(accepted=timezone.now())
            )
            if not claimed:
                return self.render(None, None, status=410)
            form.save()
            user.is_active = True
            user.save(update_fields=["is_active"])
            invitation_event.send(sender=Invitation, user=user, action="accepted", count=1)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        # Choosing the password is a password authentication: recorded like a
        # sign-in, so the re-authentication window starts now.
        record_authentication(request, user, method="password", username=user.get_username())
        messages.success(request, _("Welcome, %(name)s. Your account is ready.") % {"name": user})
        return generic.redirect_to(request, "/")


_roles = Role.objects.select_related("group").annotate(member_count=Count("group__user"))


class RoleListView(generic.ObjectListView):
    queryset = _roles
    filterset = RoleFilterSet
    table = RoleTable
    parent_crumbs = SETTINGS


class RoleDetailView(generic.ObjectDetailView):
    queryset = _roles.prefetch_related("regions")
    template_name = "accounts/role_detail.html"
    parent_crumbs = SETTINGS

    def get_extra_context(self, obj):
        granted = {perm_code(p) for p in obj.group.permissions.select_related("content_type")}
        matrix: dict[str, dict[str, list[tuple[str, bool]]]] = {}
        for perm in console_permissions():
            app = perm.content_type.app_label
            model = perm.content_type.model_class()
            model_name = str(model._meta.verbose_name_plural) if model else perm.content_type.model
            action = perm.codename.split("_", 1)[0]
            matrix.setdefault(app, {}).setdefault(model_name, []).append(
                (action, perm_code(perm) in granted)
            )
        return {
            "can_delete": self.request.user.has_perm("accounts.delete_role") and not obj.built_in,
            "matrix": matrix,
            "members": obj.group.user_set.order_by("username")[:50],
            "can_view_users": self.request.user.has_perm("accounts.view_user"),
        }


class RoleEditView(SensitiveAction, generic.ObjectEditView):
    queryset = Role.objects.select_related("group")
    form = RoleForm
    parent_crumbs = SETTINGS


class RoleDeleteView(SensitiveAction, generic.ObjectDeleteView):
    queryset = _roles
    parent_crumbs = SETTINGS

    def get_dependents(self, obj):
        return [(_("members lose this role"), obj.member_count)] if obj.member_count else []

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        if obj.built_in:
            return self.render_confirm(obj, error=BUILT_IN_UNDELETABLE, status=409)
        return self.render_confirm(obj)

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        if obj.built_in:
            return self.render_confirm(obj, error=BUILT_IN_UNDELETABLE, status=409)
        name = str(obj)
        obj.group.delete()  # the role goes with its group
        messages.success(request, _("Deleted role %(obj)s.") % {"obj": name})
        return generic.redirect_to(request, self.list_url())


BUILT_IN_UNDELETABLE = gettext_lazy(
    "Built-in roles cannot be deleted. Edit its regions or MFA requirement instead."
)
