"""API rate limits: per client IP (requests without a user), per user
(whatever the credential), per API key, and on the token endpoints per IP.

Each is a fixed window counted in the cache (Redis): one ADD and one INCR
per limit and request, the same keys for every process. Limits come from
``settings.API_RATE_LIMITS`` as (requests, window in seconds), read at each
request so that tests and settings changes apply at once. A refused request
is answered 429 with ``Retry-After`` (seconds to the end of the window).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.api_auth.authentication import client_ip
from accounts.models.api_keys import ApiKey


class _WindowThrottle(SimpleRateThrottle):
    # SimpleRateThrottle only for its ``cache`` attribute (the default cache),
    # which tests may swap for a private one.
    scope = ""

    def __init__(self):  # no DRF rate string to parse
        self._wait = 0.0

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        limit, window = settings.API_RATE_LIMITS[self.scope]
        now = time.time()
        slot = int(now // window)
        key = f"api-rate:{self.scope}:{ident}:{slot}"
        self.cache.add(key, 0, timeout=window + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between the two calls
            self.cache.add(key, 1, timeout=window + 1)
            count = 1
        self._wait = (slot + 1) * window - now
        return count <= limit

    def wait(self) -> float:
        return math.ceil(self._wait)


class IpRateThrottle(_WindowThrottle):
    """Requests with no signed-in user, per client IP."""

    scope = "ip"

    def ident(self, request):
        if request.user and request.user.is_authenticated:
            return None
        return client_ip(request) or "unknown"


class UserRateThrottle(_WindowThrottle):
    """Each user's requests, by session, JWT or any of their API keys."""

    scope = "user"

    def ident(self, request):
        if request.user and request.user.is_authenticated:
            return str(request.user.pk)
        return None


class ApiKeyRateThrottle(_WindowThrottle):
    scope = "key"

    def ident(self, request):
        if isinstance(request.auth, ApiKey):
            return str(request.auth.pk)
        return None


class TokenRateThrottle(_WindowThrottle):
    """The token endpoints, per client IP: slows password and code guessing."""

    scope = "token"

    def ident(self, request):
        return client_ip(request) or "unknown"
