from django.http import HttpRequest


def is_partial(request: HttpRequest) -> bool:
    """The one rule for "fragment or full page": an htmx request gets only the
    fragment it targets, unless it is a boosted navigation or a history restore
    (the back button), which need the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request
