"""``{% containment_panel incident %}``: the incident page's containment
panel (templates/security/incidents/partials/containment.html), with its
data fetched here so the incident view needs to know nothing of it."""

from django import template

register = template.Library()


@register.inclusion_tag("security/containment/incident_panel.html", takes_context=True)
def containment_panel(context, incident):
    from security.views_containment import incident_panel_context

    request = context.get("request")
    user = getattr(request, "user", None)
    return {"incident": incident, "request": request, **incident_panel_context(incident, user)}


@register.simple_tag
def active_quarantine(gateway):
    """The containment action that quarantines ``gateway`` (None when it is
    not quarantined: no query then)."""
    if not getattr(gateway, "quarantined", False):
        return None
    from security.choices import ContainmentKind
    from security.models import ContainmentAction

    return (
        ContainmentAction.objects.active()
        .filter(kind=ContainmentKind.QUARANTINE_GATEWAY, gateway=gateway)
        .first()
    )
