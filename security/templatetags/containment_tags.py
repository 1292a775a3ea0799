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
