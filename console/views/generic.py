"""Generic list, detail, edit and delete views, written once.

An app's view declares only ``queryset``, ``filterset``, ``table`` and ``form``;
permissions, scoping, breadcrumbs, htmx fragments and messages are handled here.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import ProtectedError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views import View

from console.htmx import is_background_refresh, is_partial


class ObjectViewMixin(View):
    """Permission, scope and naming shared by the generic views."""

    queryset = None
    action = "view"
    template_name: str | None = None

    @property
    def model(self):
        return self.queryset.model

    @property
    def opts(self):
        return self.model._meta

    def permission(self, action: str | None = None) -> str:
        return f"{self.opts.app_label}.{action or self.action}_{self.opts.model_name}"

    def url_name(self, suffix: str) -> str:
        return f"{self.opts.app_label}:{self.opts.model_name}_{suffix}"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission()):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return self.queryset.all().restrict(self.request.user, self.action)

    def get_object(self):
        try:
            return self.get_queryset().get(uuid=self.kwargs["uuid"])
        except self.model.DoesNotExist:
            raise Http404(
                _("No %(name)s matches that id.") % {"name": self.opts.verbose_name}
            ) from None

    def list_url(self) -> str:
        return reverse(self.url_name("list"))

    def base_context(self, **extra) -> dict:
        user = self.request.user
        return {
            "opts": self.opts,
            "list_url": self.list_url(),
            "can_add": user.has_perm(self.permission("add")),
            "can_change": user.has_perm(self.permission("change")),
            "can_delete": user.has_perm(self.permission("delete")),
            **extra,
        }

    # Crumbs above the list, e.g. Settings for users and roles: (label, url name).
    parent_crumbs: tuple[tuple[str, str], ...] = ()

    def breadcrumbs(self, obj=None, *tail: str) -> list[tuple[str, str | None]]:
        crumbs: list[tuple[str, str | None]] = [
            (str(label), reverse(url_name)) for label, url_name in self.parent_crumbs
        ]
        crumbs.append((str(self.opts.verbose_name_plural).capitalize(), self.list_url()))
        if obj is not None:
            crumbs.append((str(obj), obj.get_absolute_url()))
        crumbs.extend((label, None) for label in tail)
        return crumbs


class ObjectListView(ObjectViewMixin):
    filterset = None
    table = None
    template_name = "console/object_list.html"
    # An htmx request (filters, sorting, pages) swaps the table's contents; a
    # live re-fetch (console.js) replaces the whole live element around it,
    # which is all it reads from the page: the layout, navigation and filter
    # form are not rendered for it (a tenth to a fifth of a list's cost, paid
    # by every tab that reconnects at once).
    partial_template_name = "console/partials/object_table.html"
    live_template_name = "console/partials/object_table_box.html"
    # The live element's extra class and the topics whose hints re-fetch it.
    table_box_class = ""
    table_refresh_on = ""

    def get(self, request, *args, **kwargs):
        queryset = self.table.optimize_queryset(self.get_queryset())
        filterset = self.filterset(request.GET, queryset=queryset, request=request)
        # An invalid filter shows its error and no rows, rather than every row.
        rows = filterset.qs if filterset.is_valid() else queryset.none()
        table = self.table(rows).configure(request)
        crumbs = self.breadcrumbs()
        crumbs[-1] = (crumbs[-1][0], None)  # the page itself is not a link
        context = self.base_context(
            table=table,
            filterset=filterset,
            filter_active=any(v for k, v in request.GET.items() if k in filterset.filters),
            breadcrumbs=crumbs,
            table_box_class=self.table_box_class,
            table_refresh_on=self.table_refresh_on,
        )
        if is_partial(request):
            template = self.partial_template_name
        elif is_background_refresh(request):
            template = self.live_template_name
        else:
            template = self.template_name
        response = render(request, template, context, status=200 if filterset.is_valid() else 400)
        # The same URL answers a fragment or a page: caches must keep them apart.
        patch_vary_headers(response, ("HX-Request", "X-Live-Refresh"))
        return response


class ObjectDetailView(ObjectViewMixin):
    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        context = self.base_context(
            object=obj, breadcrumbs=self.breadcrumbs(obj), **self.get_extra_context(obj)
        )
        return render(request, self.template_name, context)

    def get_extra_context(self, obj) -> dict:
        return {}


class OutOfScope(Exception):
    """Rolls back a save that left the user's scope."""


class ObjectEditView(ObjectViewMixin):
    """Create (no ``uuid`` in the URL) or edit an object."""

    form = None
    template_name = "console/object_edit.html"

    @property
    def creating(self) -> bool:
        return "uuid" not in self.kwargs

    def dispatch(self, request, *args, **kwargs):
        self.action = "add" if self.creating else "change"
        return super().dispatch(request, *args, **kwargs)

    def get_form(self, instance, data=None):
        return self.form(instance=instance, data=data, user=self.request.user)

    def render_form(self, form, instance, status=200):
        if self.creating:
            crumbs = self.breadcrumbs(None, _("Add"))
            title = _("Add %(name)s") % {"name": self.opts.verbose_name}
        else:
            crumbs = self.breadcrumbs(instance, _("Edit"))
            title = _("Edit %(name)s") % {"name": instance}
        cancel = self.list_url() if self.creating else instance.get_absolute_url()
        context = self.base_context(
            form=form, object=instance, title=title, breadcrumbs=crumbs, cancel_url=cancel
        )
        return render(
            request=self.request, template_name=self.template_name, context=context, status=status
        )

    def get(self, request, *args, **kwargs):
        instance = self.model() if self.creating else self.get_object()
        return self.render_form(self.get_form(instance), instance)

    def post(self, request, *args, **kwargs):
        instance = self.model() if self.creating else self.get_object()
        form = self.get_form(instance, data=request.POST)
        if not form.is_valid():
            # Validation wrote the rejected values onto the instance: the title
            # and breadcrumbs name the object as it is stored.
            shown = instance if self.creating else self.get_object()
            return self.render_form(form, shown, status=422)
        try:
            with transaction.atomic():
                obj = form.save()
                # The saved object must still be within what this user may
                # change (their region scope): else nothing of it is kept.
                if (
                    not self.queryset.all()
                    .restrict(request.user, self.action)
                    .filter(pk=obj.pk)
                    .exists()
                ):
                    raise OutOfScope
        except OutOfScope:
            if not self.creating:
                instance = self.get_object()  # as stored, not as the form left it
            form.add_error(
                None,
                _(
                    "You may not %(action)s this %(name)s with these values: it would be "
                    "outside the regions you manage."
                )
                % {"action": self.action, "name": self.opts.verbose_name},
            )
            return self.render_form(form, instance, status=422)
        verb = _("Created") if self.creating else _("Saved")
        messages.success(
            request,
            _("%(verb)s %(name)s %(obj)s.")
            % {
                "verb": verb,
                "name": self.opts.verbose_name,
                "obj": obj,
            },
        )
        return redirect_to(request, obj.get_absolute_url())


class ObjectActionView(ObjectViewMixin):
    """A POST-only change to one object (disable, rotate, deactivate, …); GET
    shows what it will do and asks to confirm. Needs the change permission
    and the object in scope. Subclasses set the words and ``perform``."""

    action = "change"
    template_name = "console/object_action_confirm.html"
    title = ""
    explanation = ""
    button_label = ""
    button_icon = "check"
    danger = False

    def confirm_context(self, obj) -> dict:
        return {}

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        context = self.base_context(
            object=obj,
            title=self.title % {"obj": obj},
            explanation=self.explanation,
            button_label=self.button_label,
            button_icon=self.button_icon,
            danger=self.danger,
            breadcrumbs=self.breadcrumbs(obj, str(self.button_label)),
            **self.confirm_context(obj),
        )
        return render(request, self.template_name, context)

    def post(self, request, *args, **kwargs):
        return self.perform(self.get_object())

    def perform(self, obj):
        raise NotImplementedError


class ObjectDeleteView(ObjectViewMixin):
    action = "delete"
    template_name = "console/object_delete.html"

    def render_confirm(self, obj, error: str | None = None, status: int = 200):
        context = self.base_context(
            object=obj,
            error=error,
            breadcrumbs=self.breadcrumbs(obj, _("Delete")),
            dependents=self.get_dependents(obj),
        )
        return render(self.request, self.template_name, context, status=status)

    def get_dependents(self, obj) -> list[tuple[str, int]]:
        """What would block or go with the deletion, shown before confirming."""
        return []

    def get(self, request, *args, **kwargs):
        return self.render_confirm(self.get_object())

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        name = str(obj)
        try:
            with transaction.atomic():
                obj.delete()
        except ProtectedError as exc:
            count = len(exc.protected_objects)
            error = _(
                "%(obj)s cannot be deleted while %(count)d other object(s) still use it. "
                "Move or delete them first."
            ) % {"obj": name, "count": count}
            return self.render_confirm(obj, error=error, status=409)
        messages.success(
            request,
            _("Deleted %(name)s %(obj)s.")
            % {
                "name": self.opts.verbose_name,
                "obj": name,
            },
        )
        return redirect_to(request, self.list_url())


def redirect_to(request, url: str) -> HttpResponse:
    """Redirect after a successful POST; htmx follows ``HX-Redirect`` instead."""
    if is_partial(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)
