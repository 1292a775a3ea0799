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
