from django.http import HttpRequest


def is_partial(request: HttpRequest) -> bool:
    """The one rule for "fragment or full page": an htmx request gets only the
    fragment it targets, unless it is a boosted navigation or a history restore
    (the back button), which need the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def is_background_refresh(request: HttpRequest) -> bool:
    """A request the page makes by itself, not the person: the live console's
    re-fetches and polling (static/console/console.js sends ``X-Live-Refresh: 1``,
    docs/live.md). It needs only the page's live elements (a list answers its
    table alone). It is checked against the session timeouts like any other,
    but is no activity: a tab left open that only polls still reaches the idle
    timeout (security/middleware.py)."""
    return request.headers.get("X-Live-Refresh") == "1"
