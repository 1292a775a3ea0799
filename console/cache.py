"""The cache on Redis, made to degrade when Redis goes away (docs/live.md,
"When Redis is down").

Everything the console keeps in the cache can be lost: sessions are in the
database too (``cached_db``), the session policy and the IP allowlist are read
from the database on a miss, rate-limit counters start again. So while Redis
cannot be reached a read is a miss, a write is dropped and a counter starts
from zero, and pages keep loading — instead of every request failing with a
500 because one of them touched the cache.

After a failed call the cache does not try Redis again for
``RETRY_AFTER_SECONDS``: a page makes several cache calls, and each would
otherwise wait for its own connection attempt. One warning is logged per
outage, and one line when Redis answers again.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class _Outage:
    """Per process: whether Redis was found unreachable lately."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.until = 0.0
        self.down = False

    def skipping(self) -> bool:
        return time.monotonic() < self.until

    def failed(self, error: BaseException) -> None:
        with self.lock:
            self.until = time.monotonic() + RETRY_AFTER_SECONDS
            if not self.down:
                self.down = True
                log.warning(
                    "Redis is unreachable (%s): cache reads miss and writes are dropped "
                    "until it answers again",
                    type(error).__name__,
                )

    def answered(self) -> None:
        if self.down:
            with self.lock:
                if self.down:
                    self.down = False
                    log.warning("Redis answers again: the cache is back")


outage = _Outage()


def _degrading(fallback):
    """Call through to Redis; when it cannot be reached, return
    ``fallback(*args, **kwargs)`` instead of raising."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if outage.skipping():
                return fallback(*args, **kwargs)
            try:
                result = method(self, *args, **kwargs)
            except UNREACHABLE as error:
                outage.failed(error)
                return fallback(*args, **kwargs)
            outage.answered()
            return result

        return wrapper

    return decorate


def _default(key, default=None, *args, **kwargs):
    return default


def _nothing(*args, **kwargs):
    return None


def _false(*args, **kwargs):
    return False


def _true(*args, **kwargs):
    # add(): "not there before" — a first-in-window check records rather
    # than loses (audit/middleware.py), a counter starts again.
    return True


def _delta(key, delta=1, *args, **kwargs):
    # incr()/decr() of a counter that cannot be read: the first of a new window.
    return delta


def _empty(*args, **kwargs):
    return {}


def _no_keys(keys, *args, **kwargs):
    return list(keys)


class _ReusedClient(RedisCacheClient):
    """Django's client makes a ``redis.Redis`` for every call (~0.1 ms: it
    builds its response-callback table each time), and a page makes several
    (session, IP allowlist, session policy, …). One per connection pool, made
    once: a ``redis.Redis`` is thread-safe, each command takes a connection
    from the pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


# One client (and so one connection pool) per configuration, for the process.
_clients: dict[tuple, _ReusedClient] = {}
_clients_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    """Django's Redis cache, which answers as an empty cache while Redis is
    unreachable (see the module's docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusedClient

    @property
    def _cache(self):
        """The process's client for this configuration, not one per cache
        object. Django keeps cache objects per context (``asgiref.local``):
        under ASGI every request and every websocket is a new context, so
        each made a client, a pool and a new Redis connection (a TCP connect,
        the ``CLIENT SETINFO`` round trips, and redis-py looking up its own
        version on disk). redis-py's pools are thread-safe and start afresh
        in a forked child."""
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _clients_lock:
                client = _clients.get(key)
                if client is None:
                    client = _clients[key] = self._class(self._servers, **self._options)
        return client

    get = _degrading(_default)(RedisCache.get)
    get_many = _degrading(_empty)(RedisCache.get_many)
    set = _degrading(_nothing)(RedisCache.set)
    set_many = _degrading(_no_keys)(RedisCache.set_many)
    add = _degrading(_true)(RedisCache.add)
    touch = _degrading(_false)(RedisCache.touch)
    delete = _degrading(_false)(RedisCache.delete)
    delete_many = _degrading(_nothing)(RedisCache.delete_many)
    has_key = _degrading(_false)(RedisCache.has_key)
    incr = _degrading(_delta)(RedisCache.incr)
    clear = _degrading(_false)(RedisCache.clear)
