"""Gateway credentials open the agent API and nothing else; user sessions and
user tokens open none of it."""

from __future__ import annotations

import functools
import time

import redis
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connection
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from gateways.enrolment import digest
from gateways.models import Gateway, RetiredCredential


class GatewayCredentialAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, credential = header.partition(" ")
        # The scheme name is case-insensitive (RFC 9110 §11.1).
        if scheme.lower() != self.keyword.lower() or not credential.strip():
            raise exceptions.NotAuthenticated(
                "Send the gateway credential as 'Bearer <credential>'."
            )
        hashed = digest(credential.strip())
        gateway = gateway_by_credential_hash(hashed)
        if gateway is None:
            if RetiredCredential.objects.filter(credential_hash=hashed).exists():
                raise exceptions.PermissionDenied("This gateway was deleted from the console.")
            raise exceptions.AuthenticationFailed("Unknown or rotated gateway credential.")
        if not gateway.enabled:
            raise exceptions.PermissionDenied("This gateway is disabled in the console.")
        # request.user stays anonymous: a gateway is not a user of the console.
        return AnonymousUser(), gateway

    def authenticate_header(self, request):
        return f'{self.keyword} realm="agent"'


@functools.cache
def _lookup_statement(vendor: str) -> tuple[str, list[str], list]:
    """The ORM's own SQL for ``Gateway.objects.filter(credential_hash=…)``,
    compiled once: building it on every call was a third of an agent call's
    Python time (the gateway row has twenty-odd columns)."""
    query = Gateway.objects.filter(credential_hash="?").order_by()[:1].query
    sql, params = query.sql_with_params()
    assert params == ("?",), params
    fields = list(Gateway._meta.concrete_fields)
    converters = [
        (
            index,
            field.get_db_converters(connection)
            + connection.ops.get_db_converters(field.get_col(Gateway._meta.db_table)),
        )
        for index, field in enumerate(fields)
    ]
    return sql, [field.attname for field in fields], [c for c in converters if c[1]]


def gateway_by_credential_hash(hashed: str) -> Gateway | None:
    sql, names, converters = _lookup_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [hashed])
        row = cursor.fetchone()
    if row is None:
        return None
    if converters:
        row = list(row)
        for index, functions in converters:
            for convert in functions:
                row[index] = convert(row[index], None, connection)
    return Gateway.from_db(connection.alias, names, row)


class IsGateway(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Gateway)


@functools.cache
def _redis(url: str) -> redis.Redis:
    """One client (one connection pool) per process and Redis URL.

    Django's cache keeps its client per thread, and under ASGI each request
    runs in a fresh thread: through ``cache`` every agent call opened a new
    Redis connection (a third of a heartbeat's time in the profile).
    """
    return redis.Redis.from_url(url)


class GatewayRateThrottle(BaseThrottle):
    """A fixed one-minute window per gateway, counted in Redis: INCR and
    EXPIRE in one round trip."""

    window = 60

    def allow_request(self, request, view) -> bool:
        gateway = request.auth
        if not isinstance(gateway, Gateway):
            return True
        now = time.time()
        slot = int(now // self.window)
        # The cache's key prefix keeps test runs and consoles sharing a Redis apart.
        key = cache.make_key(f"agent-rate:{gateway.pk}:{slot}")
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, self.window * 2)
        count, _ = pipe.execute()
        self._wait = (slot + 1) * self.window - now
        return count <= settings.AGENT_THROTTLE_PER_MINUTE

    def wait(self) -> float:
        return getattr(self, "_wait", self.window)
