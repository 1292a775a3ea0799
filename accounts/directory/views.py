"""Settings → Directory & SSO: the directory connection (read-only, with a
connection test), SSO providers, SCIM tokens, SSO-only roles, and the group
mappings with their preview."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from accounts.directory import mapping
from accounts.directory.filtersets import GroupMappingFilterSet
from accounts.directory.forms import (
    GroupMappingForm,
    MappingPreviewForm,
    ScimTokenForm,
    SsoOnlyRolesForm,
)
from accounts.directory.tables import GroupMappingTable
from accounts.models import DirectoryIdentity, GroupMapping, RoleSignInPolicy, ScimToken
from console.views import generic
from security.decorators import RecentAuthRequiredMixin

SETTINGS = ((gettext_lazy("Settings"), "settings"),)
DIRECTORY = (*SETTINGS, (gettext_lazy("Directory & SSO"), "accounts:directory"))

VIEW_PERM = "accounts.view_groupmapping"
CHANGE_PERM = "accounts.change_groupmapping"


class SensitiveAction(RecentAuthRequiredMixin):
    """Who gets which role is changed here: a recent password first."""

    recent_auth_methods = ("POST",)


_mappings = GroupMapping.objects.select_related("role__group").prefetch_related("regions")


class GroupMappingListView(generic.ObjectListView):
    queryset = _mappings
    filterset = GroupMappingFilterSet
    table = GroupMappingTable
    template_name = "accounts/directory/groupmapping_list.html"
    parent_crumbs = DIRECTORY


class GroupMappingDetailView(generic.ObjectDetailView):
    queryset = _mappings
    template_name = "accounts/directory/groupmapping_detail.html"
    parent_crumbs = DIRECTORY

    def get_extra_context(self, obj):
        members = DirectoryIdentity.objects.filter(groups__icontains=obj.group).select_related(
            "user"
        )[:200]
        # JSON containment is case-sensitive: keep the exact, case-insensitive matches.
        wanted = obj.group.lower()
        return {
            "members": [
                i.user
                for i in members
                if any(g.lower() == wanted for g in i.groups)
                and (not obj.source or obj.source == i.source)
            ][:50]
        }


class GroupMappingEditView(SensitiveAction, generic.ObjectEditView):
    queryset = _mappings
    form = GroupMappingForm
    parent_crumbs = DIRECTORY


class GroupMappingDeleteView(SensitiveAction, generic.ObjectDeleteView):
    queryset = _mappings
    parent_crumbs = DIRECTORY


def describe_grant(grant) -> dict:
    return {
        "roles": grant.roles,
        "regions": grant.region_objects,
        "all_regions": grant.regions is None,
        "mappings": grant.mappings,
        "empty": grant.empty,
    }


class GroupMappingPreviewView(View):
    """GET only: changes nothing, so the answer is a page one can link to."""

    template_name = "accounts/directory/groupmapping_preview.html"

    def get(self, request):
        if not request.user.has_perm(VIEW_PERM):
            raise PermissionDenied
        form = MappingPreviewForm(request.GET or None)
        result, status, who = None, 200, None
        if request.GET:
            if form.is_valid():
                groups = form.cleaned_data["group_list"]
                source = form.cleaned_data["source"]
                username = (form.cleaned_data.get("username") or "").strip()
                if not groups and username:
                    identity = (
                        DirectoryIdentity.objects.select_related("user")
                        .filter(user__username__iexact=username)
                        .first()
                    )
                    if identity is None:
                        form.add_error("username", _("No directory user is called %s.") % username)
                        status = 422
                    else:
                        who = identity.user
                        groups = identity.groups
                        source = source or identity.source
                if status == 200:
                    grant = mapping.resolve(source, groups)
                    result = {**describe_grant(grant), "groups": groups, "who": who}
            else:
                status = 422
        crumbs = [(str(label), reverse(name)) for label, name in DIRECTORY]
        crumbs.append(
            (
                str(GroupMapping._meta.verbose_name_plural).capitalize(),
                reverse("accounts:groupmapping_list"),
            )
        )
        crumbs.append((_("Preview"), None))
        return render(
            request,
            self.template_name,
            {"form": form, "result": result, "breadcrumbs": crumbs},
            status=status,
        )


def sso_provider_rows(request) -> list[dict]:
    """The configured providers and the URLs to register at each."""
    from django.conf import settings

    providers = getattr(settings, "SOCIALACCOUNT_PROVIDERS", {})
    rows = []
    for app in providers.get("openid_connect", {}).get("APPS", []):
        rows.append(
            {
                "kind": "OpenID Connect",
                "name": app.get("name") or app["provider_id"],
                "id": app["provider_id"],
                "identity": app["settings"]["server_url"],
                "client_id": app["client_id"],
                "groups": app["settings"].get("groups_claim", "groups"),
                "urls": [
                    (
                        _("Redirect URI"),
                        request.build_absolute_uri(
                            reverse(
                                "openid_connect_callback",
                                kwargs={"provider_id": app["provider_id"]},
                            )
                        ),
                    )
                ],
            }
        )
    for app in providers.get("saml", {}).get("APPS", []):
        slug = app["client_id"]
        idp = app["settings"].get("idp", {})
        rows.append(
            {
                "kind": "SAML 2.0",
                "name": app.get("name") or slug,
                "id": slug,
                "identity": idp.get("entity_id") or idp.get("metadata_url", ""),
                "client_id": "",
                "groups": app["settings"].get("groups_attribute", "groups"),
                "urls": [
                    (
                        _("Assertion consumer service (ACS)"),
                        request.build_absolute_uri(reverse("saml_acs", args=[slug])),
                    ),
                    (
                        _("Service provider metadata"),
                        request.build_absolute_uri(reverse("saml_metadata", args=[slug])),
                    ),
                ],
            }
        )
    return rows


def sso_only_roles():
    return RoleSignInPolicy.objects.filter(sso_only=True).values_list("role_id", flat=True)


class DirectoryView(View):
    """Settings → Directory & SSO. GET shows; the connection test POSTs
    here (it reaches the directory with the service account)."""

    template_name = "accounts/directory/overview.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERM):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def context(self, **extra):
        from django.conf import settings

        from accounts.directory.gate import UNREACHABLE_CACHE_KEY

        options = getattr(settings, "DIRECTORY_LDAP", None)
        user = self.request.user
        can_change = user.has_perm(CHANGE_PERM)
        tokens = ScimToken.objects.select_related("created_by").order_by("-created")[:50]
        from django.core.cache import cache

        return {
            "ldap": options.summary() if options else None,
            "ldap_unreachable": bool(options and cache.get(UNREACHABLE_CACHE_KEY)),
            "providers": sso_provider_rows(self.request),
            "mapping_count": GroupMapping.objects.count(),
            "directory_users": DirectoryIdentity.objects.count(),
            "tokens": tokens,
            "scim_url": self.request.build_absolute_uri("/scim/v2/"),
            "can_change": can_change,
            "can_manage_tokens": can_change and user.has_perm("accounts.add_user"),
            "sso_form": SsoOnlyRolesForm(initial={"roles": list(sso_only_roles())}, user=user),
            "token_form": ScimTokenForm(),
            "breadcrumbs": [(str(label), reverse(name)) for label, name in SETTINGS]
            + [(_("Directory & SSO"), None)],
            **extra,
        }

    def get(self, request):
        return render(request, self.template_name, self.context())

    def post(self, request):
        from django.conf import settings

        if not request.user.has_perm(CHANGE_PERM):
            raise PermissionDenied
        options = getattr(settings, "DIRECTORY_LDAP", None)
        username = request.POST.get("username", "")[:150]
        if options is None:
            return render(
                request,
                self.template_name,
                self.context(test_error=_("No directory is configured.")),
                status=409,
            )
        # Only with a directory configured: python-ldap is an extra that
        # `make run` does not install.
        from accounts.directory.diagnose import test_connection

        report = test_connection(options, username)
        if report.ok:
            from django.core.cache import cache

            from accounts.directory.gate import UNREACHABLE_CACHE_KEY

            cache.delete(UNREACHABLE_CACHE_KEY)
        return render(
            request,
            self.template_name,
            self.context(report=report, tested_username=username),
        )


class SsoOnlyRolesView(SensitiveAction, View):
    def post(self, request):
        if not (
            request.user.has_perm(CHANGE_PERM) and request.user.has_perm("accounts.change_role")
        ):
            raise PermissionDenied
        form = SsoOnlyRolesForm(request.POST, user=request.user)
        if not form.is_valid():
            messages.error(request, _("Choose roles from the list."))
            return generic.redirect_to(request, reverse("accounts:directory"))
        chosen = {role.pk for role in form.cleaned_data["roles"]}
        with transaction.atomic():
            for role in form.fields["roles"].queryset:
                policy, _created = RoleSignInPolicy.objects.get_or_create(role=role)
                if policy.sso_only != (role.pk in chosen):
                    policy.sso_only = role.pk in chosen
                    policy.save(update_fields=["sso_only"])
        messages.success(request, _("Saved which roles must sign in with SSO."))
        return generic.redirect_to(request, reverse("accounts:directory"))


class ScimTokenAddView(SensitiveAction, View):
    template_name = "accounts/directory/scim_token_created.html"

    def post(self, request):
        if not (request.user.has_perm(CHANGE_PERM) and request.user.has_perm("accounts.add_user")):
            raise PermissionDenied
        form = ScimTokenForm(request.POST)
        if not form.is_valid():
            view = DirectoryView()
            view.request = request
            return render(request, view.template_name, view.context(token_form=form), status=422)
        scim_token, token = ScimToken.issue(form.cleaned_data["name"], created_by=request.user)
        response = render(
            request,
            self.template_name,
            {
                "scim_token": scim_token,
                "token": token,
                "scim_url": request.build_absolute_uri("/scim/v2/"),
                "breadcrumbs": [(str(label), reverse(name)) for label, name in DIRECTORY]
                + [(_("SCIM token"), None)],
            },
        )
        response["Cache-Control"] = "no-store"  # the token is a secret
        return response


class ScimTokenRevokeView(SensitiveAction, View):
    def post(self, request, uuid):
        if not request.user.has_perm(CHANGE_PERM):
            raise PermissionDenied
        scim_token = ScimToken.objects.filter(uuid=uuid).first()
        if scim_token is None:
            from django.http import Http404

            raise Http404(_("No SCIM token matches that id."))
        scim_token.revoke()
        messages.success(request, _("Revoked SCIM token %(name)s.") % {"name": scim_token.name})
        return generic.redirect_to(request, reverse("accounts:directory"))

    def get(self, request, uuid):
        from django.http import HttpResponseNotAllowed

        return HttpResponseNotAllowed(["POST"])
