import functools
import html

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@functools.cache
def _sprite_url() -> str:
    # Once per process: the static storage's answer (a manifest lookup in
    # production) does not change while it runs, and a page draws dozens of icons.
    return html.escape(static("vendor/lucide/sprite.svg"), quote=True)


@receiver(setting_changed)
def _forget_sprite_url(*, setting, **kwargs):
    if setting in ("STATIC_URL", "STORAGES"):
        _sprite_url.cache_clear()


@functools.lru_cache(maxsize=512)
def _icon(name: str, css: str, sprite: str) -> SafeString:
    # The same output as format_html: both values escaped.
    name, css = html.escape(name, quote=True), html.escape(css, quote=True)
    return mark_safe(
        f'<svg class="{css}" aria-hidden="true" focusable="false">'
        f'<use href="{sprite}#{name}"></use></svg>'
    )


@register.simple_tag
def icon(name: str, css: str = "icon") -> str:
    """An icon from the Lucide sprite (npm package lucide-static)."""
    return _icon(str(name), str(css), _sprite_url())


@register.simple_tag
def status_badge(obj, field: str = "status") -> str:
    """A status badge whose colour and icon come from the app's choices.py."""
    style = getattr(obj, f"{field}_style")
    label = getattr(obj, f"get_{field}_display")()
    return format_html(
        '<span class="badge badge-{}">{}{}</span>', style.colour, icon(style.icon), label
    )


_BITRATE_UNITS = ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s"))


@register.simple_tag(takes_context=True)
def row_cells(context, row) -> SafeString:
    """A table row's cells (console/partials/object_row.html)."""
    from console.tables import row_cells as cells  # console.tables imports this module

    return cells(row, context)


@register.filter
def bitrate(value) -> str:
    """A rate in bit/s in human units (SI, powers of 1000): ``1500000`` → "1.5 Mbit/s".

    Below 100 of a unit one decimal is shown, above it none; nothing gives "—".
    """
    if value is None or value == "":
        return "—"
    try:
        bits = float(value)
    except (TypeError, ValueError):
        return "—"
    for size, unit in _BITRATE_UNITS:
        # The threshold sits half a display step lower, so 999.6 kbit/s reads
        # "1.0 Mbit/s" rather than "1000 kbit/s".
        if abs(bits) >= size * 0.9995:
            scaled = bits / size
            return f"{scaled:.1f} {unit}" if abs(round(scaled, 1)) < 100 else f"{scaled:.0f} {unit}"
    return f"{bits:.0f} bit/s"
