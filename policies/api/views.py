"""/api/v1/policies/: the draft (policies with nested rules), validation,
publishing, simulation, import/export; /api/v1/policies/revisions/:
published revisions, their diff and rollback; /api/v1/policy-categories/."""

from __future__ import annotations

import ipaddress
import time

from django.contrib.auth.models import Group
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from console.api.viewsets import ScopedModelViewSet
from gateways.models import Gateway, Region
from policies import evaluation
from policies.api.serializers import (
    PolicyCategorySerializer,
    PolicySerializer,
    PublishSerializer,
    RevisionDetailSerializer,
    RevisionSerializer,
    RollbackSerializer,
    RuleSerializer,
    SimulateSerializer,
)
from policies.diff import diff_snapshots
from policies.filtersets import PolicyFilterSet
from policies.models import Policy, PolicyCategory, PolicyRevision, Rule
from policies.publishing import PublishRefused, publish, rollback
from policies.signals import draft_changed
from policies.simulation import compare
from policies.snapshot import SnapshotError, export_draft, import_snapshot, rule_to_dict
from policies.validation import validate
from security.decorators import recently_authenticated
from security.models import SessionPolicy


class HasPerms(BasePermission):
    """The view's ``required_perms`` for the current action."""

    def has_permission(self, request, view):
        perms = view.required_perms()
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perms(perms)
        )


def route_action(view) -> str | None:
    """The view's action, or for a method the route does not take (GET on
    publish) the route's own, so permissions answer 403 before 405."""
    if view.action:
        return view.action
    actions = set(getattr(view, "action_map", {}).values())
    return actions.pop() if len(actions) == 1 else None


def require_recent_authentication(request) -> None:
    """Publishing and rollback need a recent password, as in the console: a
    session that signed in (or re-authenticated) within the session policy's
    window, or a JWT obtained within it (its ``auth_time``). API keys are
    long-lived and cannot prove one: they are refused."""
    window = SessionPolicy.current().reauthentication_window.total_seconds()
    payload = getattr(request.auth, "payload", None)
    if isinstance(payload, dict):
        issued = payload.get("auth_time") or payload.get("iat") or 0
        if time.time() - issued < window:
            return
    elif request.auth is None and recently_authenticated(request._request):
        return
    raise PermissionDenied(
        _(
            "This needs a recent sign-in: use a JWT obtained within the re-authentication "
            "window, or sign in to the console again. API keys cannot publish."
        ),
        code="reauthentication_required",
    )


def _issues(report) -> list[dict]:
    return [issue.as_dict() for issue in report.issues]


def _send_changed(request, action_name, object_type, obj, before, after):
    transaction.on_commit(
        lambda: draft_changed.send(
            sender=Policy,
            actor=request.user,
            action=action_name,
            object_type=object_type,
            object_id=str(obj.uuid) if obj is not None else None,
            name=str(obj) if obj is not None else "",
            before=before,
            after=after,
            request=request._request,
        )
    )


def refuse_containment(policy: Policy) -> None:
    """The Containment policy and its rules change only through containment
    actions (/api/v1/containment/), which publish at once."""
    if policy.is_containment:
        raise PermissionDenied(
            _(
                "The Containment policy is changed only by containment actions "
                "(/api/v1/containment/)."
            )
        )


class PolicyViewSet(ScopedModelViewSet):
    """Policies of the draft, each with its rules in order. Changes here go
    into the draft; ``publish`` makes them a revision gateways receive."""

    queryset = Policy.objects.select_related("category").prefetch_related("tags", "rules")
    serializer_class = PolicySerializer
    filterset_class = PolicyFilterSet
    ordering_fields = ["priority", "name", "created", "updated"]
    ordering = ["priority", "name"]

    def get_permissions(self):
        if route_action(self) in ("publish", "simulate", "validation", "export", "import_set"):
            return [HasPerms()]
        return super().get_permissions()

    def required_perms(self) -> tuple[str, ...]:
        return {
            "publish": ("policies.publish_policy",),
            "import_set": (
                "policies.add_policy",
                "policies.change_policy",
                "policies.delete_policy",
            ),
        }.get(route_action(self), ("policies.view_policy",))

    def perform_create(self, serializer):
        super().perform_create(serializer)
        _send_changed(self.request, "create", "policy", serializer.instance, None, serializer.data)

    def perform_update(self, serializer):
        refuse_containment(serializer.instance)
        before = PolicySerializer(serializer.instance, context=self.get_serializer_context()).data
        super().perform_update(serializer)
        _send_changed(
            self.request, "update", "policy", serializer.instance, before, serializer.data
        )

    def perform_destroy(self, instance):
        refuse_containment(instance)
        before = PolicySerializer(instance, context=self.get_serializer_context()).data
        super().perform_destroy(instance)
        _send_changed(self.request, "delete", "policy", instance, before, None)

    @extend_schema(
        request=PublishSerializer,
        responses={
            201: RevisionSerializer,
            403: OpenApiResponse(description="No publish permission, or no recent sign-in."),
            409: OpenApiResponse(
                description="Validation errors, unconfirmed warnings, or nothing changed: "
                "``code`` and ``issues`` say which."
            ),
        },
    )
    @action(detail=False, methods=["post"])
    def publish(self, request):
        """Validate the draft and publish it as a new revision (needs
        ``publish_policy`` and a recent sign-in)."""
        require_recent_authentication(request)
        body = PublishSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            revision = publish(
                request.user,
                body.validated_data["message"],
                confirm_warnings=body.validated_data["confirm_warnings"],
                request=request._request,
            )
        except PublishRefused as refused:
            return Response(
                {
                    "detail": refused.message,
                    "code": refused.code,
                    "issues": _issues(refused.report) if refused.report else [],
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            RevisionSerializer(revision, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def validation(self, request):
        """What validation says about the draft now: errors block publishing,
        warnings need ``confirm_warnings``."""
        report = validate(export_draft())
        return Response({"publishable": report.publishable, "issues": _issues(report)})

    @extend_schema(request=SimulateSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def simulate(self, request):
        """Would this packet be allowed? The answer of the published set and
        of the draft, the deciding rule, and why earlier rules did not match."""
        body = SimulateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        packet = _packet(request, data)
        current = PolicyRevision.current()
        result = compare(packet, current.snapshot if current else None, export_draft())
        return Response(
            {
                "published": _decision(result.published),
                "draft": _decision(result.draft),
                "differs": result.differs,
            }
        )

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The whole draft as JSON (format ``rustronaut-policies/1``); import
        it again for exactly the same set."""
        return Response(export_draft())

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"], url_path="import", url_name="import-set")
    def import_set(self, request):
        """Replace the whole draft with an exported set (nothing is published)."""
        before = export_draft()
        try:
            import_snapshot(request.data)
        except SnapshotError as exc:
            raise ValidationError({"errors": exc.errors}) from None
        after = export_draft()
        _send_changed(request, "import", "policy set", None, before, after)
        return Response(after)


def _packet(request, data) -> evaluation.Packet:
    gateway = region = None
    if data.get("gateway"):
        gateway = (
            Gateway.objects.restrict(request.user, "view")
            .select_related("region")
            .filter(uuid=data["gateway"])
            .first()
        )
        if gateway is None:
            raise ValidationError({"gateway": [_("No gateway has this id.")]})
    if data.get("region"):
        region = Region.objects.restrict(request.user, "view").filter(uuid=data["region"]).first()
        if region is None:
            raise ValidationError({"region": [_("No region has this id.")]})
    if data.get("group") is not None and not Group.objects.filter(pk=data["group"]).exists():
        raise ValidationError({"group": [_("No user group has this id.")]})
    destination = data["destination"].strip()
    try:
        dst_ip, dst_host = ipaddress.ip_address(destination), None
    except ValueError:
        try:
            dst_ip, dst_host = None, evaluation.normalise_host(destination)
        except ValueError:
            raise ValidationError(
                {"destination": [_("Give an IP address or a host name.")]}
            ) from None
    protocol = data["protocol"]
    port = data.get("port")
    if protocol != evaluation.ICMP and port is None:
        raise ValidationError({"port": [_("TCP and UDP need a port.")]})
    from django.utils import timezone

    return evaluation.Packet(
        protocol=protocol,
        port=port if protocol != evaluation.ICMP else None,
        src_ip=ipaddress.ip_address(data["source_ip"]) if data.get("source_ip") else None,
        src_gateway=str(gateway.uuid) if gateway else None,
        src_region=str(gateway.region.uuid) if gateway else (str(region.uuid) if region else None),
        src_groups=frozenset({str(data["group"])})
        if data.get("group") is not None
        else frozenset(),
        dst_ip=dst_ip,
        dst_host=dst_host,
        moment=data.get("at") or timezone.now(),
    )


def _decision(decision) -> dict | None:
    if decision is None:
        return None
    return {
        "action": decision.action,
        "default": decision.rule is None,
        "policy_id": decision.rule.policy_key if decision.rule else None,
        "rule_id": decision.rule.key if decision.rule else None,
        "rule": decision.rule.label if decision.rule else None,
        "not_matched": [
            {"rule_id": rule.key, "rule": rule.label, "reasons": list(reasons)}
            for rule, reasons in decision.skipped
        ],
    }


class PolicyRuleViewSet(viewsets.ModelViewSet):
    """The rules of one policy, in order (``number``). Reading needs
    ``view_policy``; changing them ``change_policy``."""

    serializer_class = RuleSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "rule"
    filter_backends: list = []
    pagination_class = None
    queryset = Rule.objects.none()

    def get_permissions(self):
        return [HasPerms()]

    def required_perms(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return ("policies.view_policy",)
        return ("policies.change_policy",)

    @property
    def policy(self) -> Policy:
        return get_object_or_404(Policy, uuid=self.kwargs["uuid"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rule.objects.none()
        return Rule.objects.filter(policy=self.policy).order_by("position", "pk")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and "uuid" in self.kwargs:
            context["policy"] = self.policy
        return context

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            refuse_containment(self.policy)

    def perform_create(self, serializer):
        serializer.save()
        _send_changed(
            self.request,
            "create",
            "rule",
            serializer.instance,
            None,
            rule_to_dict(serializer.instance),
        )

    def perform_update(self, serializer):
        before = rule_to_dict(serializer.instance)
        serializer.save()
        _send_changed(
            self.request,
            "update",
            "rule",
            serializer.instance,
            before,
            rule_to_dict(serializer.instance),
        )

    def perform_destroy(self, instance):
        from policies.forms import renumber

        before = rule_to_dict(instance)
        with transaction.atomic():
            instance.delete()
            renumber(instance.policy)
        _send_changed(self.request, "delete", "rule", instance, before, None)


class PolicyRevisionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Published revisions, newest first. Immutable; ``rollback`` publishes
    an old one again as a new revision."""

    queryset = PolicyRevision.objects.select_related("rolled_back_from").order_by("-number")
    lookup_field = "uuid"
    lookup_value_converter = "uuid"
    filter_backends: list = []

    def get_permissions(self):
        return [HasPerms()]

    def required_perms(self):
        if route_action(self) == "rollback":
            return ("policies.publish_policy",)
        return ("policies.view_policy",)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return RevisionDetailSerializer
        if self.action == "rollback":
            return RollbackSerializer
        return RevisionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "against",
                str,
                description="A revision id, ``draft``, or (default) the previous revision.",
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, uuid=None):
        """Rule-by-rule changes from ``against`` to this revision."""
        revision = self.get_object()
        against = request.query_params.get("against", "previous")
        if against == "draft":
            old = export_draft()
        elif against == "previous":
            previous = (
                PolicyRevision.objects.filter(number__lt=revision.number)
                .order_by("-number")
                .first()
            )
            old = previous.snapshot if previous else None
        else:
            other = PolicyRevision.objects.filter(uuid=against).first() if _uuid(against) else None
            if other is None:
                raise ValidationError({"against": [_("No revision has this id.")]})
            old = other.snapshot
        return Response(diff_snapshots(old, revision.snapshot))

    @extend_schema(request=RollbackSerializer, responses={201: RevisionSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request, uuid=None):
        """Publish this revision's set again as a new revision (it becomes the
        draft too). Needs ``publish_policy`` and a recent sign-in."""
        require_recent_authentication(request)
        revision = self.get_object()
        body = RollbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        new = rollback(
            request.user, revision, body.validated_data["message"], request=request._request
        )
        return Response(
            RevisionSerializer(new, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


def _uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class PolicyCategoryViewSet(ScopedModelViewSet):
    """The categories admins group policies under."""

    queryset = PolicyCategory.objects.all()
    serializer_class = PolicyCategorySerializer
    filter_backends: list = []
