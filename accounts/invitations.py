"""Inviting people: a one-time link by email to choose a password."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Invitation

logger = logging.getLogger(__name__)


def invite(request, user) -> tuple[Invitation, str, bool]:
    """Issue a fresh invitation for ``user`` and email its link.

    Returns (invitation, link, sent). The link is also shown once to the admin
    who invited, so an invitation still works where email is not set up; a
    mail server that refuses is reported, not raised.
    """
    invitation, token = Invitation.issue(user, invited_by=request.user)
    link = request.build_absolute_uri(reverse("accounts:invitation_accept", args=[token]))
    context = {
        "user": user,
        "link": link,
        "invited_by": request.user,
        "expires": invitation.expires,
        "product": "Rustronaut Console",
    }
    try:
        send_mail(
            subject=render_to_string("accounts/email/invitation_subject.txt", context).strip(),
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
        sent = True
    except OSError as exc:  # SMTP refused, host unreachable, TLS failure …
        logger.warning(
            "invitation email not sent", extra={"user": user.username, "error": str(exc)}
        )
        sent = False
    return invitation, link, sent
