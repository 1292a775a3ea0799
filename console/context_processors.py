from django.conf import settings

from console import navigation


def console(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "csp_nonce": getattr(request, "csp_nonce", ""),
        "nav_items": navigation.items_for(request) if user and user.is_authenticated else [],
        "product_name": "Rustronaut Console",
        "debug": settings.DEBUG,
    }
