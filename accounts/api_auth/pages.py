"""Pages: Your account → API keys (every user, their own keys) and
Settings → Service accounts & API keys (admins, keys of service accounts).

Who may use each view is declared on it: own-key pages need a signed-in
user (the login-required middleware) and act on ``request.user``'s keys
only; service-account pages need the accounts user permissions.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.api_auth.forms import ApiKeyForm, ServiceAccountForm
from accounts.models.api_keys import DOMAIN_LABELS, ApiKey
from security.decorators import require_recent_auth

ACCOUNT_CRUMB = (gettext_lazy("Your account"), "account")
SETTINGS_CRUMB = (gettext_lazy("Settings"), "settings")


def post_needs_recent_auth(view):
    """Creating a key or a service account is sensitive (STYLE.md): the POST
    asks for the password again when the last sign-in is older than the
    session policy's window (allauth replays it afterwards)."""
    guarded = require_recent_auth(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return (guarded if request.method == "POST" else view)(request, *args, **kwargs)

    return wrapper


def _crumbs(*items):
    return [(str(label), reverse(name) if name else None) for label, name in items]


def _scope_rows(api_key):
    return [(DOMAIN_LABELS[d], level) for d, level in api_key.scopes.items() if d in DOMAIN_LABELS]


def _show_key(request, api_key, key, back_url, crumbs):
    """The one and only time a key is shown: in this answer, never stored."""
    context = {
        "api_key": api_key,
        "key": key,
        "scopes": _scope_rows(api_key),
        "back_url": back_url,
        "breadcrumbs": crumbs,
    }
    response = render(request, "accounts/api_keys/created.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _create_key(request, owner, back_url, crumbs, title):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        api_key, key = ApiKey.issue(
            owner=owner,
            name=form.cleaned_data["name"],
            scopes=form.scopes(),
            expires=form.expires(),
            created_by=request.user,
        )
        messages.success(request, _("Created the API key %(name)s.") % {"name": api_key.name})
        return _show_key(request, api_key, key, back_url, crumbs)
    context = {"form": form, "title": title, "owner": owner, "cancel_url": back_url}
    context["breadcrumbs"] = crumbs
    status = 422 if form.errors else 200
    return render(request, "accounts/api_keys/form.html", context, status=status)


def _confirm_revoke(request, api_key, back_url, crumbs):
    if request.method == "POST":
        api_key.revoke()
        messages.success(request, _("Revoked the API key %(name)s.") % {"name": api_key.name})
        return redirect(back_url)
    context = {"api_key": api_key, "cancel_url": back_url, "breadcrumbs": crumbs}
    return render(request, "accounts/api_keys/revoke.html", context)


# --- Your account → API keys: any signed-in user, their own keys ------------


@login_required
@require_http_methods(["GET"])
def own_key_list(request):
    keys = ApiKey.objects.filter(owner=request.user).select_related("created_by")
    context = {
        "keys": keys,
        "breadcrumbs": _crumbs(ACCOUNT_CRUMB, (_("API keys"), None)),
    }
    return render(request, "accounts/api_keys/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@post_needs_recent_auth
def own_key_create(request):
    back = reverse("accounts:api_key_list")
    crumbs = _crumbs(ACCOUNT_CRUMB, (_("API keys"), "accounts:api_key_list"), (_("New"), None))
    return _create_key(request, request.user, back, crumbs, _("New API key"))


@login_required
@require_http_methods(["GET", "POST"])
def own_key_revoke(request, uuid):
    api_key = get_object_or_404(ApiKey, uuid=uuid, owner=request.user, revoked__isnull=True)
    back = reverse("accounts:api_key_list")
    crumbs = _crumbs(ACCOUNT_CRUMB, (_("API keys"), "accounts:api_key_list"), (_("Revoke"), None))
    return _confirm_revoke(request, api_key, back, crumbs)


# --- Settings → Service accounts & API keys: admins ---------------------------


def _service_accounts():
    return get_user_model().objects.filter(is_service_account=True)


@permission_required("accounts.view_user", raise_exception=True)
@require_http_methods(["GET"])
def service_account_list(request):
    accounts = (
        _service_accounts()
        .prefetch_related(
            "groups",
            Prefetch("api_keys", queryset=ApiKey.objects.order_by("-created")),
        )
        .order_by("username")
    )
    context = {
        "accounts": accounts,
        "can_add": request.user.has_perm("accounts.add_user"),
        "can_change": request.user.has_perm("accounts.change_user"),
        "breadcrumbs": _crumbs(SETTINGS_CRUMB, (_("Service accounts & API keys"), None)),
    }
    return render(request, "accounts/api_keys/service_accounts.html", context)


@permission_required("accounts.add_user", raise_exception=True)
@require_http_methods(["GET", "POST"])
@post_needs_recent_auth
def service_account_create(request):
    form = ServiceAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            account = form.save()
        messages.success(
            request,
            _("Created the service account %(name)s: now give it an API key.")
            % {"name": account.username},
        )
        return redirect("accounts:service_account_list")
    context = {
        "form": form,
        "title": _("New service account"),
        "cancel_url": reverse("accounts:service_account_list"),
        "breadcrumbs": _crumbs(
            SETTINGS_CRUMB,
            (_("Service accounts & API keys"), "accounts:service_account_list"),
            (_("New service account"), None),
        ),
    }
    return render(
        request,
        "accounts/api_keys/service_account_form.html",
        context,
        status=422 if form.errors else 200,
    )


@permission_required("accounts.change_user", raise_exception=True)
@require_http_methods(["GET", "POST"])
@post_needs_recent_auth
def service_key_create(request, uuid):
    account = get_object_or_404(_service_accounts(), uuid=uuid, is_active=True)
    back = reverse("accounts:service_account_list")
    crumbs = _crumbs(
        SETTINGS_CRUMB,
        (_("Service accounts & API keys"), "accounts:service_account_list"),
        (account.username, None),
    )
    title = _("New API key for %(name)s") % {"name": account.username}
    return _create_key(request, account, back, crumbs, title)


@permission_required("accounts.change_user", raise_exception=True)
@require_http_methods(["GET", "POST"])
def service_key_revoke(request, uuid, key_uuid):
    api_key = get_object_or_404(
        ApiKey.objects.select_related("owner"),
        uuid=key_uuid,
        owner__uuid=uuid,
        owner__is_service_account=True,
        revoked__isnull=True,
    )
    back = reverse("accounts:service_account_list")
    crumbs = _crumbs(
        SETTINGS_CRUMB,
        (_("Service accounts & API keys"), "accounts:service_account_list"),
        (_("Revoke"), None),
    )
    return _confirm_revoke(request, api_key, back, crumbs)
