from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

INVITATION_PREFIX = "rci_"

# Sent when invitations change in bulk or are claimed (UPDATEs send no model
# signal; the audit log listens): invitation_event(user, action, count).
invitation_event = Signal()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(accepted__isnull=True, revoked__isnull=True, expires__gt=timezone.now())


class Invitation(models.Model):
    """A one-time link that lets an invited person choose their password.

    The invited user exists from the start (inactive, no usable password) so
    that roles and regions are assigned before they ever sign in. Only a hash
    of the link's token is stored.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("user"),
    )
    # Looked up by the accept page: digest(token) from the link.
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    expires = models.DateTimeField(_("expires"))
    accepted = models.DateTimeField(_("accepted"), null=True, blank=True)
    revoked = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.user} ({self.created:%Y-%m-%d})"

    @classmethod
    def issue(cls, user, invited_by=None, valid_for: timedelta | None = None):
        """A new invitation for ``user``; earlier open ones stop working.
        Returns (invitation, token): the token exists only in the email."""
        now = timezone.now()
        replaced = cls.objects.filter(user=user).usable().update(revoked=now)
        if replaced:
            invitation_event.send(sender=cls, user=user, action="replaced", count=replaced)
        token = INVITATION_PREFIX + secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            user=user,
            token_hash=digest(token),
            invited_by=invited_by,
            expires=now + (valid_for or timedelta(days=settings.INVITATION_VALID_DAYS)),
        )
        return invitation, token

    @classmethod
    def find(cls, token: str):
        if not token.startswith(INVITATION_PREFIX):
            return None
        return cls.objects.usable().select_related("user").filter(token_hash=digest(token)).first()
