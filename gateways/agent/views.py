"""Agent API v1, exactly as AGENT_PROTOCOL.md specifies.

Bodies are validated with pydantic (one pass over the raw JSON); every bad
field is answered ``400 {"errors": {"<path>": ["message"]}}`` and nothing of a
rejected request is stored. Nothing an agent sends may cause a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from pydantic import BaseModel, ValidationError
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from gateways.agent import schemas
from gateways.agent.authentication import (
    GatewayCredentialAuthentication,
    GatewayRateThrottle,
    IsGateway,
)
from gateways.agent.ingest import (
    build_config,
    current_config_version,
    record_heartbeat,
    store_events,
)
from gateways.enrolment import EnrolmentRefused, enrol

TAG = ["agent"]


class AgentError(Exception):
    def __init__(self, status_code: int, errors: dict[str, list[str]]):
        self.status_code = status_code
        self.errors = errors


def _error_response(status_code: int, errors: dict[str, list[str]], headers=None) -> Response:
    return Response({"errors": errors}, status=status_code, headers=headers)


def _field_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "body"


def agent_exception_handler(exc, context):
    if isinstance(exc, AgentError):
        return _error_response(exc.status_code, exc.errors)
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, int(exc.wait or 1))
        return _error_response(
            429,
            {"rate": [f"Too many requests from this gateway; retry in {wait} s."]},
            headers={"Retry-After": str(wait)},
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return _error_response(
            401,
            {"authorization": [str(exc.detail)]},
            headers={"WWW-Authenticate": 'Bearer realm="agent"'},
        )
    if isinstance(exc, exceptions.PermissionDenied):
        return _error_response(403, {"authorization": [str(exc.detail)]})
    if isinstance(exc, exceptions.MethodNotAllowed):
        return _error_response(405, {"method": [str(exc.detail)]})
    if isinstance(exc, exceptions.APIException):
        return _error_response(exc.status_code, {"body": [str(exc.detail)]})
    return None


class AgentView(APIView):
    authentication_classes = [GatewayCredentialAuthentication]
    permission_classes = [IsGateway]
    throttle_classes = [GatewayRateThrottle]
    renderer_classes = [JSONRenderer]
    # Declared for the OpenAPI schema and content negotiation; the views read
    # the raw body and validate it with pydantic in one pass (request.data is
    # never touched, so DRF never parses it a second time).
    parser_classes = [JSONParser]

    def get_exception_handler(self):
        return agent_exception_handler

    def validated(self, request, schema: type[BaseModel]) -> BaseModel:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.AGENT_MAX_BODY_BYTES:
            raise AgentError(413, {"body": ["The body is larger than 1 MiB."]})
        try:
            body = request.body
        except RequestDataTooBig:
            raise AgentError(413, {"body": ["The body is larger than 1 MiB."]}) from None
        if len(body) > settings.AGENT_MAX_BODY_BYTES:
            raise AgentError(413, {"body": ["The body is larger than 1 MiB."]})
        try:
            return schema.model_validate_json(body)
        except ValidationError as exc:
            if any(
                error["type"] == "too_long" and error["loc"] == ("events",)
                for error in exc.errors()
            ):
                # A limit comes before the fields: 413, not 400, for a batch over 1,000.
                raise AgentError(413, {"events": ["A batch holds at most 1,000 events."]}) from None
            raise AgentError(400, self.errors_of(exc)) from None

    @staticmethod
    def errors_of(exc: ValidationError) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                errors.setdefault("body", []).append(f"Malformed JSON: {error['ctx']['error']}.")
            elif error["type"] == "model_type":
                errors.setdefault(_field_path(error["loc"]), []).append("Expected a JSON object.")
            else:
                errors.setdefault(_field_path(error["loc"]), []).append(error["msg"] + ".")
        return errors


def _schema_errors(description: str) -> OpenApiResponse:
    return OpenApiResponse(schemas.ErrorResponse, description=description)


AUTH_ERRORS = {
    401: _schema_errors("Missing, unknown or rotated credential."),
    403: _schema_errors("The gateway is disabled or was deleted."),
    413: _schema_errors("Body over 1 MiB (or, for events, a batch over 1,000)."),
    429: _schema_errors("Too many requests from this gateway; see Retry-After."),
}


class EnrollView(AgentView):
    """Exchange a one-time enrolment token for the gateway's credential."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        tags=TAG,
        request=schemas.EnrollRequest,
        responses={
            201: schemas.EnrollResponse,
            400: _schema_errors("A missing or ill-typed field."),
            401: _schema_errors("The token is unknown, used, revoked or expired."),
            403: _schema_errors("The gateway is disabled."),
        },
        auth=[],
    )
    def post(self, request):
        data = self.validated(request, schemas.EnrollRequest)
        try:
            enrolment = enrol(data.token, version=data.version, hostname=data.hostname)
        except EnrolmentRefused as refused:
            return _error_response(refused.status, {"token": [refused.message]})
        return Response(
            {
                "gateway_id": str(enrolment.gateway.uuid),
                "credential": enrolment.credential,
                "heartbeat_interval": settings.GATEWAY_HEARTBEAT_INTERVAL,
            },
            status=status.HTTP_201_CREATED,
        )


class HeartbeatView(AgentView):
    """Report status, metrics and tunnel states; learn the current config version."""

    @extend_schema(
        tags=TAG,
        request=schemas.Heartbeat,
        responses={
            200: schemas.HeartbeatResponse,
            400: _schema_errors("Bad fields."),
            **AUTH_ERRORS,
        },
    )
    def post(self, request):
        heartbeat = self.validated(request, schemas.Heartbeat)
        version = record_heartbeat(request.auth, heartbeat, timezone.now())
        return Response(
            {
                "config_version": version,
                "heartbeat_interval": settings.GATEWAY_HEARTBEAT_INTERVAL,
            }
        )


class EventsView(AgentView):
    """Store a batch of security events; ids already stored count as duplicates."""

    @extend_schema(
        tags=TAG,
        request=schemas.EventBatch,
        responses={202: schemas.EventsResponse, 400: _schema_errors("Bad fields."), **AUTH_ERRORS},
    )
    def post(self, request):
        batch = self.validated(request, schemas.EventBatch)
        accepted, duplicates = store_events(request.auth, batch.events)
        return Response({"accepted": accepted, "duplicates": duplicates}, status=202)


class ConfigView(AgentView):
    """The published policies and the tunnels that apply to this gateway."""

    @extend_schema(
        tags=TAG,
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                location=OpenApiParameter.HEADER,
                required=False,
                description='The version the agent has, quoted: "41".',
            )
        ],
        responses={
            200: schemas.ConfigResponse,
            304: OpenApiResponse(description="Unchanged."),
            **AUTH_ERRORS,
        },
    )
    def get(self, request):
        version = current_config_version()
        etag = f'"{version}"'
        if request.META.get("HTTP_IF_NONE_MATCH", "").strip() == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(build_config(request.auth, version), headers={"ETag": etag})
