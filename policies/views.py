"""Policy pages: the draft (policies, rules, categories), validation,
publishing, revisions, diff, rollback, rollout, simulation, “what changes”,
import and export. docs/policies.md describes them for admins."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

import audit
from console.views import generic
from policies import rollout as rollout_status
from policies.diff import describe, diff_snapshots
from policies.filtersets import PolicyFilterSet
from policies.forms import (
    ImportForm,
    PolicyCategoryForm,
    PolicyForm,
    PublishForm,
    RollbackForm,
    RuleForm,
    SimulationForm,
    renumber,
)
from policies.models import CONTAINMENT_POLICY_ID, Policy, PolicyCategory, PolicyRevision, Rule
from policies.publishing import PublishRefused, draft_status, publish, rollback
from policies.signals import draft_changed
from policies.simulation import compare, impact, packet_from_form, recent_events
from policies.snapshot import (
    SnapshotError,
    export_draft,
    import_snapshot,
    ordered_policies,
    policy_to_dict,
    rule_to_dict,
)
from policies.tables import PolicyCategoryTable, PolicyTable
from policies.validation import validate
from security.decorators import RecentAuthRequiredMixin

VIEW, CHANGE, PUBLISH = "policies.view_policy", "policies.change_policy", "policies.publish_policy"


def send_draft_changed(request, action, object_type, obj=None, before=None, after=None):
    """For the audit log, after commit."""
    transaction.on_commit(
        lambda: draft_changed.send(
            sender=Policy,
            actor=request.user,
            action=action,
            object_type=object_type,
            object_id=str(obj.uuid) if obj is not None else None,
            name=str(obj) if obj is not None else "",
            before=before,
            after=after,
            request=request,
        )
    )


def _policy_dict(policy: Policy) -> dict:
    return policy_to_dict(policy, list(policy.rules.order_by("position", "pk")))


def draft_context(user) -> dict:
    status = draft_status()
    return {
        "draft_changed": status["changed"],
        "current_revision": status["current"],
        "can_publish": user.has_perm(PUBLISH),
    }


class PermissionView(View):
    """A view that needs one permission (``permission``)."""

    permission = VIEW

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def crumbs(self, *tail) -> list:
        return [(_("Policies"), reverse("policies:policy_list")), *tail]


# --- Policies -------------------------------------------------------------


class PolicyListView(generic.ObjectListView):
    queryset = Policy.objects.annotate(rule_count=Count("rules"))
    filterset = PolicyFilterSet
    table = PolicyTable
    template_name = "policies/policy_list.html"

    def base_context(self, **extra) -> dict:
        context = super().base_context(**extra)
        if "table" in extra:
            extra["table"].rule_matches = extra["filterset"].rule_matches
        context.update(draft_context(self.request.user))
        return context


class PolicyDetailView(generic.ObjectDetailView):
    queryset = Policy.objects.select_related("category").prefetch_related("tags")
    template_name = "policies/policy_detail.html"

    def get_extra_context(self, obj):
        user = self.request.user
        status = draft_status()
        report = validate(status["draft"])
        by_rule = report.by_rule()
        rules = list(obj.rules.order_by("position", "pk"))
        rows = [
            {
                "rule": rule,
                "words": describe(rule_to_dict(rule)),
                "issues": by_rule.get(str(rule.uuid), []),
            }
            for rule in rules
        ]
        order = [p for p in ordered_policies(status["draft"]) if p["enabled"]]
        names = [p["name"] for p in order]
        place = names.index(obj.name) if obj.name in names else None
        current = status["current"]
        published = None
        if current is not None:
            published = next(
                (p for p in current.snapshot.get("policies", []) if p["id"] == str(obj.uuid)), None
            )
        rollout = rollout_status.rollout_status(current, user) if current else None
        return {
            "rows": rows,
            "policy_issues": [i for i in report.for_policy(obj.uuid) if not i.rule_id],
            "issue_count": len(report.for_policy(obj.uuid)),
            "previous_policy": names[place - 1] if place else None,
            "next_policy": names[place + 1]
            if place is not None and place + 1 < len(names)
            else None,
            "place": place + 1 if place is not None else None,
            "enabled_count": len(names),
            "published_policy": published,
            "policy_changed": published != _policy_dict(obj) if current else True,
            "rollout": rollout,
            "flag_after": rollout_status.flag_after(),
            **draft_context(user),
            # Changed only by containment actions, never by hand.
            **(
                {"is_containment": True, "can_change": False, "can_delete": False}
                if obj.is_containment
                else {}
            ),
        }


def refuse_containment(policy_uuid) -> None:
    """The Containment policy and its rules change only through containment
    actions (Security → Containment), which publish each change at once."""
    if policy_uuid is not None and str(policy_uuid) == CONTAINMENT_POLICY_ID:
        raise PermissionDenied(
            _(
                "The Containment policy is changed only by containment actions "
                "(Security → Containment)."
            )
        )


class PolicyEditView(generic.ObjectEditView):
    queryset = Policy.objects.all()
    form = PolicyForm

    def dispatch(self, request, *args, **kwargs):
        refuse_containment(kwargs.get("uuid"))
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        before = None if self.creating else _policy_dict(self.get_object())
        response = super().post(request, *args, **kwargs)
        if response.status_code in (302, 204):
            name = request.POST.get("name", "")
            policy = Policy.objects.filter(name=name).first()
            if policy is not None:
                send_draft_changed(
                    request,
                    "create" if self.creating else "update",
                    "policy",
                    policy,
                    before,
                    _policy_dict(policy),
                )
        return response


class PolicyDeleteView(generic.ObjectDeleteView):
    queryset = Policy.objects.all()

    def dispatch(self, request, *args, **kwargs):
        refuse_containment(kwargs.get("uuid"))
        return super().dispatch(request, *args, **kwargs)

    def get_dependents(self, obj):
        return [(_("Rules (deleted with it)"), obj.rules.count())]

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        before = _policy_dict(obj)
        response = super().post(request, *args, **kwargs)
        send_draft_changed(request, "delete", "policy", obj, before, None)
        return response


# --- Rules ----------------------------------------------------------------


class RuleMixin(PermissionView):
    """Rules are changed with the policy's change permission."""

    permission = CHANGE

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        refuse_containment(kwargs["uuid"])
        self.policy = get_object_or_404(Policy, uuid=kwargs["uuid"])
        self.rule = None
        if "rule" in kwargs:
            self.rule = get_object_or_404(Rule, policy=self.policy, uuid=kwargs["rule"])
        return View.dispatch(self, request, *args, **kwargs)


class RuleEditView(RuleMixin):
    template_name = "policies/rule_edit.html"

    def form(self, data=None):
        return RuleForm(
            data=data, instance=self.rule or Rule(), policy=self.policy, user=self.request.user
        )

    def render_form(self, form, status=200):
        title = (
            _("Edit rule %(n)d of %(policy)s") % {"n": self.rule.position, "policy": self.policy}
            if self.rule
            else _("Add a rule to %(policy)s") % {"policy": self.policy}
        )
        context = {
            "form": form,
            "policy": self.policy,
            "rule": self.rule,
            "title": title,
            "breadcrumbs": self.crumbs(
                (str(self.policy), self.policy.get_absolute_url()),
                (_("Edit rule") if self.rule else _("Add rule"), None),
            ),
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, *args, **kwargs):
        return self.render_form(self.form())

    def post(self, request, *args, **kwargs):
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render_form(form, status=422)
        before = rule_to_dict(self.rule) if self.rule else None
        with transaction.atomic():
            rule = form.save()
            Policy.objects.filter(pk=self.policy.pk).update(updated=timezone.now())
        rule.refresh_from_db()
        send_draft_changed(
            request, "update" if before else "create", "rule", rule, before, rule_to_dict(rule)
        )
        messages.success(
            request,
            _("Saved rule %(n)d of %(policy)s (draft).")
            % {"n": rule.position, "policy": self.policy},
        )
        return generic.redirect_to(request, f"{self.policy.get_absolute_url()}#rule-{rule.uuid}")


class RuleDeleteView(RuleMixin):
    def get(self, request, *args, **kwargs):
        context = {
            "object": self.rule,
            "policy": self.policy,
            "words": describe(rule_to_dict(self.rule)),
            "breadcrumbs": self.crumbs(
                (str(self.policy), self.policy.get_absolute_url()), (_("Delete rule"), None)
            ),
        }
        return render(request, "policies/rule_delete.html", context)

    def post(self, request, *args, **kwargs):
        before = rule_to_dict(self.rule)
        number = self.rule.position
        with transaction.atomic():
            self.rule.delete()
            renumber(self.policy)
            Policy.objects.filter(pk=self.policy.pk).update(updated=timezone.now())
        send_draft_changed(request, "delete", "rule", self.rule, before, None)
        messages.success(
            request,
            _("Deleted rule %(n)d of %(policy)s (draft).") % {"n": number, "policy": self.policy},
        )
        return generic.redirect_to(request, self.policy.get_absolute_url())


class RuleMoveView(RuleMixin):
    """POST ``direction=up|down``: swap with the neighbour."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        direction = request.POST.get("direction")
        rules = list(self.policy.rules.order_by("position", "pk"))
        index = next(i for i, r in enumerate(rules) if r.pk == self.rule.pk)
        other = index - 1 if direction == "up" else index + 1
        if direction in ("up", "down") and 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
            with transaction.atomic():
                for number, rule in enumerate(rules, start=1):
                    rule.position = number
                Rule.objects.bulk_update(rules, ["position"])
                Policy.objects.filter(pk=self.policy.pk).update(updated=timezone.now())
                # bulk_update sends no save signals (docs/audit.md).
                audit.record(
                    "policy.rule_move",
                    self.policy,
                    changes={"rule": [index + 1, other + 1]},
                    detail={"rule_id": str(self.rule.uuid)},
                )
            send_draft_changed(
                request,
                "move",
                "rule",
                self.rule,
                {"number": index + 1},
                {"number": other + 1},
            )
            messages.success(
                request,
                _("Moved rule %(a)d to %(b)d (draft).") % {"a": index + 1, "b": other + 1},
            )
        return generic.redirect_to(
            request, f"{self.policy.get_absolute_url()}#rule-{self.rule.uuid}"
        )


# --- Categories -----------------------------------------------------------


class PolicyCategoryListView(generic.ObjectListView):
    queryset = PolicyCategory.objects.annotate(policy_count=Count("policies"))
    filterset = None
    table = PolicyCategoryTable
    template_name = "policies/category_list.html"
    parent_crumbs = ((_("Policies"), "policies:policy_list"),)

    def get(self, request, *args, **kwargs):
        table = self.table(self.table.optimize_queryset(self.get_queryset())).configure(request)
        crumbs = self.breadcrumbs()
        crumbs[-1] = (crumbs[-1][0], None)
        return render(
            request,
            self.template_name,
            self.base_context(table=table, breadcrumbs=crumbs),
        )


class PolicyCategoryEditView(generic.ObjectEditView):
    queryset = PolicyCategory.objects.all()
    form = PolicyCategoryForm
    parent_crumbs = ((_("Policies"), "policies:policy_list"),)


class PolicyCategoryDeleteView(generic.ObjectDeleteView):
    queryset = PolicyCategory.objects.all()
    parent_crumbs = ((_("Policies"), "policies:policy_list"),)

    def get_dependents(self, obj):
        return [(_("Policies (left without a category)"), obj.policies.count())]


# --- Publishing -------------------------------------------------------------


class PublishView(RecentAuthRequiredMixin, PermissionView):
    """Review the draft (validation, diff) and publish it. Needs the publish
    permission, and a recent password for the POST."""

    permission = PUBLISH
    recent_auth_methods = ("POST",)

    def render_page(self, form, status=200, refusal=None):
        state = draft_status()
        current = state["current"]
        report = validate(state["draft"])
        context = {
            "form": form,
            "report": report,
            "diff": diff_snapshots(current.snapshot if current else None, state["draft"]),
            "current_revision": current,
            "draft_changed": state["changed"],
            "refusal": refusal,
            "breadcrumbs": self.crumbs((_("Publish"), None)),
        }
        return render(self.request, "policies/publish.html", context, status=status)

    def get(self, request, *args, **kwargs):
        return self.render_page(PublishForm())

    def post(self, request, *args, **kwargs):
        form = PublishForm(request.POST)
        if not form.is_valid():
            return self.render_page(form, status=422)
        try:
            revision = publish(
                request.user,
                form.cleaned_data["message"],
                confirm_warnings=form.cleaned_data["confirm_warnings"],
                request=request,
            )
        except PublishRefused as refused:
            if refused.code == "warnings_not_confirmed":
                form.add_error("confirm_warnings", refused.message)
            return self.render_page(form, status=409, refusal=refused)
        messages.success(
            request,
            _("Published revision %(n)d: gateways pull it at their next heartbeat.")
            % {"n": revision.number},
        )
        return generic.redirect_to(request, revision.get_absolute_url())


# --- Revisions ------------------------------------------------------------


class RevisionListView(PermissionView):
    def get(self, request, *args, **kwargs):
        revisions = list(
            PolicyRevision.objects.select_related("rolled_back_from").order_by("-number")[:200]
        )
        versions = list(
            rollout_status.Gateway.objects.restrict(request.user, "view")
            .filter(enabled=True)
            .values_list("config_version", flat=True)
        )
        for revision in revisions:
            revision.applied_count = sum(
                1 for v in versions if v is not None and v >= revision.config_version
            )
        context = {
            "revisions": revisions,
            "gateway_count": len(versions),
            "breadcrumbs": self.crumbs((_("Revisions"), None)),
            **draft_context(request.user),
        }
        return render(request, "policies/revision_list.html", context)


def _revision(uuid) -> PolicyRevision:
    return get_object_or_404(PolicyRevision.objects.select_related("rolled_back_from"), uuid=uuid)


class RevisionDetailView(PermissionView):
    def get(self, request, uuid, *args, **kwargs):
        revision = _revision(uuid)
        previous = (
            PolicyRevision.objects.filter(number__lt=revision.number).order_by("-number").first()
        )
        policies = [
            {
                "policy": policy,
                "rules": [describe(rule) for rule in policy.get("rules", [])],
            }
            for policy in ordered_policies(revision.snapshot)
        ]
        current = PolicyRevision.current()
        context = {
            "revision": revision,
            "previous": previous,
            "is_current": current is not None and current.pk == revision.pk,
            "policies": policies,
            "rollout": rollout_status.rollout_status(revision, request.user),
            "flag_after": rollout_status.flag_after(),
            "can_publish": request.user.has_perm(PUBLISH),
            "breadcrumbs": self.crumbs(
                (_("Revisions"), reverse("policies:revision_list")), (str(revision), None)
            ),
        }
        return render(request, "policies/revision_detail.html", context)


class RevisionCompareView(PermissionView):
    """``?from=<revision id>&to=<revision id | draft>``; by default the
    published revision against the draft."""

    def get(self, request, *args, **kwargs):
        revisions = list(
            PolicyRevision.objects.only("uuid", "number", "created").order_by("-number")
        )
        by_id = {str(r.uuid): r for r in revisions}
        current = revisions[0] if revisions else None
        default_from = str(current.uuid) if current else ""
        chosen_from = request.GET.get("from") or default_from
        chosen_to = request.GET.get("to") or "draft"
        if (chosen_from and chosen_from not in by_id) or (
            chosen_to != "draft" and chosen_to not in by_id
        ):
            raise Http404(_("No such revision."))

        def load(key):
            if key == "draft":
                return export_draft(), _("Draft")
            if not key:
                return None, _("Nothing published")
            revision = PolicyRevision.objects.get(uuid=key)
            return revision.snapshot, str(revision)

        old, old_label = load(chosen_from)
        new, new_label = load(chosen_to)
        context = {
            "diff": diff_snapshots(old, new),
            "old_label": old_label,
            "new_label": new_label,
            "revisions": revisions,
            "chosen_from": chosen_from,
            "chosen_to": chosen_to,
            "breadcrumbs": self.crumbs(
                (_("Revisions"), reverse("policies:revision_list")), (_("Compare"), None)
            ),
        }
        return render(request, "policies/revision_compare.html", context)


class RollbackView(RecentAuthRequiredMixin, PermissionView):
    permission = PUBLISH
    recent_auth_methods = ("POST",)

    def render_page(self, revision, form, status=200):
        state = draft_status()
        context = {
            "revision": revision,
            "form": form,
            "report": validate(revision.snapshot),
            "draft_changed": state["changed"],
            "diff": diff_snapshots(state["draft"], revision.snapshot),
            "breadcrumbs": self.crumbs(
                (_("Revisions"), reverse("policies:revision_list")),
                (str(revision), revision.get_absolute_url()),
                (_("Roll back"), None),
            ),
        }
        return render(self.request, "policies/rollback.html", context, status=status)

    def get(self, request, uuid, *args, **kwargs):
        return self.render_page(_revision(uuid), RollbackForm())

    def post(self, request, uuid, *args, **kwargs):
        revision = _revision(uuid)
        form = RollbackForm(request.POST)
        if not form.is_valid():
            return self.render_page(revision, form, status=422)
        new = rollback(request.user, revision, form.cleaned_data["message"], request=request)
        messages.success(
            request,
            _("Rolled back: revision %(new)d publishes revision %(old)d's policies again.")
            % {"new": new.number, "old": revision.number},
        )
        return generic.redirect_to(request, new.get_absolute_url())


# --- Simulation -----------------------------------------------------------


class SimulateView(PermissionView):
    def get(self, request, *args, **kwargs):
        bound = "destination" in request.GET
        form = SimulationForm(request.GET if bound else None, user=request.user)
        result = None
        if bound and form.is_valid():
            current = PolicyRevision.current()
            packet = packet_from_form(form.cleaned_data)
            result = compare(packet, current.snapshot if current else None, export_draft())
        context = {
            "form": form,
            "result": result,
            "breadcrumbs": self.crumbs((_("Simulate"), None)),
        }
        return render(
            request,
            "policies/simulate.html",
            context,
            status=400 if bound and not form.is_valid() else 200,
        )


class ImpactView(PermissionView):
    """What the draft changes for the recent security events."""

    def get(self, request, *args, **kwargs):
        current = PolicyRevision.current()
        can_see_events = request.user.has_perm("security.view_securityevent")
        events = list(recent_events(request.user)) if can_see_events else []
        changed = impact(events, current.snapshot if current else None, export_draft())
        context = {
            "changed": changed,
            "newly_allowed": [c for c in changed if c[1].draft.allowed],
            "newly_denied": [c for c in changed if not c[1].draft.allowed],
            "event_count": len(events),
            "can_see_events": can_see_events,
            "current_revision": current,
            "breadcrumbs": self.crumbs((_("What changes"), None)),
        }
        return render(request, "policies/impact.html", context)


# --- Import and export ------------------------------------------------------


class ExportView(PermissionView):
    """The draft (or ``?revision=<id>``) as a JSON file."""

    def get(self, request, *args, **kwargs):
        revision_id = request.GET.get("revision")
        if revision_id:
            revision = (
                PolicyRevision.objects.filter(uuid=revision_id).first()
                if _is_uuid(revision_id)
                else None
            )
            if revision is None:
                raise Http404(_("No such revision."))
            data, name = revision.snapshot, f"policies-revision-{revision.number}.json"
        else:
            data, name = export_draft(), "policies-draft.json"
        response = HttpResponse(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n",
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


IMPORT_PERMS = ("policies.add_policy", "policies.change_policy", "policies.delete_policy")


class ImportView(PermissionView):
    permission = CHANGE

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perms(IMPORT_PERMS):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def render_page(self, form, errors=(), status=200):
        context = {
            "form": form,
            "errors": errors,
            "breadcrumbs": self.crumbs((_("Import"), None)),
        }
        return render(self.request, "policies/import.html", context, status=status)

    def get(self, request, *args, **kwargs):
        return self.render_page(ImportForm())

    def post(self, request, *args, **kwargs):
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page(form, status=422)
        before = export_draft()
        try:
            import_snapshot(form.cleaned_data["file"])
        except SnapshotError as exc:
            return self.render_page(form, errors=exc.errors, status=422)
        send_draft_changed(request, "import", "policy set", None, before, export_draft())
        messages.success(
            request, _("Imported the policy set into the draft. Review it, then publish.")
        )
        return generic.redirect_to(request, reverse("policies:policy_list"))
