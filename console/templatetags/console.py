from django import template
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def icon(name: str, css: str = "icon") -> str:
    """An icon from the Lucide sprite (npm package lucide-static)."""
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        css,
        static("vendor/lucide/sprite.svg"),
        name,
    )


@register.simple_tag
def status_badge(obj, field: str = "status") -> str:
    """A status badge whose colour and icon come from the app's choices.py."""
    style = getattr(obj, f"{field}_style")
    label = getattr(obj, f"get_{field}_display")()
    return format_html(
        '<span class="badge badge-{}">{}{}</span>', style.colour, icon(style.icon), label
    )


_BITRATE_UNITS = ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s"))


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
