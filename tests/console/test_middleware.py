"""RequestIdMiddleware: one id per request, from a sane X-Request-ID or made
up, on the request, in the log context while the request runs, and echoed in
the response; the same in the sync and the async chain."""

from __future__ import annotations

import asyncio
import re

import pytest
from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.test import RequestFactory

from console.logging import request_id
from console.middleware import RequestIdMiddleware

factory = RequestFactory()


def _view(seen: list):
    def view(request):
        seen.append((request.request_id, request_id.get()))
        return HttpResponse("ok")

    return view


def _async_view(seen: list):
    async def view(request):
        seen.append((request.request_id, request_id.get()))
        return HttpResponse("ok")

    return view


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("lb-0123456789", True),
        ("a.b_c-d1234", True),
        ("short", False),
        ("has space 12345", False),
        ("x" * 65, False),
        ("", False),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_id_is_kept_when_sane_else_made(mode, incoming, kept):
    seen: list = []
    headers = {"HTTP_X_REQUEST_ID": incoming} if incoming else {}
    request = factory.get("/", **headers)
    if mode == "sync":
        middleware = RequestIdMiddleware(_view(seen))
        assert not iscoroutinefunction(middleware)
        response = middleware(request)
    else:
        middleware = RequestIdMiddleware(_async_view(seen))
        assert iscoroutinefunction(middleware)
        response = asyncio.run(middleware(request))

    rid = response["X-Request-ID"]
    assert seen == [(rid, rid)]
    assert request.request_id == rid
    if kept:
        assert rid == incoming
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert request_id.get() == "-"  # reset once the request is done


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_log_context_is_reset_when_the_view_fails(mode):
    def boom(request):
        raise RuntimeError("boom")

    async def aboom(request):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        if mode == "sync":
            RequestIdMiddleware(boom)(factory.get("/"))
        else:
            asyncio.run(RequestIdMiddleware(aboom)(factory.get("/")))
    assert request_id.get() == "-"


def test_it_is_sync_and_async_capable():
    assert RequestIdMiddleware.sync_capable and RequestIdMiddleware.async_capable
