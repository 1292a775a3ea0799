from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.choices import UNKNOWN_STYLE, StatusStyle
from console.querysets import RestrictedQuerySet
from security.choices import (
    ALLOWLIST_SCOPE_STYLE,
    SEVERITY_STYLE,
    AllowlistScope,
    Category,
    Severity,
)


class SecurityEvent(models.Model):
    """A security event reported by a gateway agent.

    ``uuid`` is made by the agent: a retried batch carries the same ids and is
    stored once. The table grows to millions of rows; its indexes serve the
    events list (time range plus one of severity, category, gateway, source).
    """

    uuid = models.UUIDField(_("event id"), unique=True, editable=False)
    gateway = models.ForeignKey(
        "gateways.Gateway", on_delete=models.CASCADE, related_name="security_events"
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    signature = models.CharField(_("signature"), max_length=255, blank=True)
    src_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    src_port = models.PositiveIntegerField(_("source port"), null=True, blank=True)
    dst_ip = models.GenericIPAddressField(_("destination IP"), null=True, blank=True)
    dst_port = models.PositiveIntegerField(_("destination port"), null=True, blank=True)
    protocol = models.CharField(_("protocol"), max_length=10, blank=True)
    message = models.TextField(_("message"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Set by an operator who has looked at the event ("acknowledge" on its
    # page); cleared again by "unacknowledge". Incidents (a later step) are
    # acknowledged as a whole; an event keeps its own mark.
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )

    objects = RestrictedQuerySet.as_manager()
    scope_lookups = ("gateway__region",)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        indexes = [
            # Events list, newest first, optionally for one gateway / severity /
            # category / source: each filter pairs with the time range.
            models.Index(fields=["-occurred_at", "-id"], name="secevent_time_idx"),
            models.Index(fields=["gateway", "-occurred_at"], name="secevent_gw_time_idx"),
            models.Index(fields=["severity", "-occurred_at"], name="secevent_sev_time_idx"),
            models.Index(fields=["category", "-occurred_at"], name="secevent_cat_time_idx"),
            models.Index(fields=["src_ip", "-occurred_at"], name="secevent_src_time_idx"),
            # The destination filter (an address, or a CIDR: on PostgreSQL the
            # column is ``inet`` and ``dst_ip <<= net`` is a range scan of this
            # btree, as for src_ip above).
            models.Index(fields=["dst_ip", "-occurred_at"], name="secevent_dst_time_idx"),
            # "Unacknowledged only", newest first: the triage view. Partial, so
            # it holds only what still needs a look.
            models.Index(
                fields=["-occurred_at", "-id"],
                name="secevent_unack_time_idx",
                condition=models.Q(acknowledged_at__isnull=True),
            ),
        ]
        # Not declared here: the full-text index (GIN over to_tsvector('simple',
        # signature || ' ' || message)), PostgreSQL only, made by migration
        # 0003 and used by security.filtersets.text_search with the very same
        # expression.

    def __str__(self) -> str:
        return f"{self.get_severity_display()} {self.get_category_display()}: {self.signature}"

    def get_absolute_url(self) -> str:
        return reverse("security:event_detail", kwargs={"uuid": self.uuid})

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def severity_style(self) -> StatusStyle:
        return SEVERITY_STYLE.get(self.severity, UNKNOWN_STYLE)


class SavedEventSearch(models.Model):
    """A named query string of the events list, kept per user ("Saved
    searches" on the events page). It belongs to its user alone: no model
    permission, the views look it up among the user's own."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_event_searches",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("query string"), max_length=2000, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved event search")
        verbose_name_plural = _("saved event searches")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="savedeventsearch_user_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        url = reverse("security:event_list")
        return f"{url}?{self.query}" if self.query else url


class SessionPolicy(models.Model):
    """How long console sessions last and how many a user may hold: one row,
    edited on Settings → Sessions & sign-in, read through ``current()``
    (cached; the cache is dropped when it is saved)."""

    idle_timeout_minutes = models.PositiveIntegerField(
        _("idle timeout (minutes)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_("Sign a session out after this long without a request."),
    )
    absolute_lifetime_hours = models.PositiveIntegerField(
        _("absolute lifetime (hours)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(30 * 24)],
        help_text=_("Sign a session out this long after sign-in, however active it is."),
    )
    max_sessions_per_user = models.PositiveIntegerField(
        _("maximum sessions per user"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Signing in once more ends that user's oldest session."),
    )
    reauthentication_minutes = models.PositiveIntegerField(
        _("re-authentication window (minutes)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_(
            "Sensitive actions (changing roles, creating API keys, publishing policies…) "
            "ask for the password again when the last sign-in is older than this."
        ),
    )
    updated = models.DateTimeField(_("updated"), auto_now=True)

    CACHE_KEY = "security:session-policy:v1"

    class Meta:
        verbose_name = _("session policy")
        verbose_name_plural = _("session policy")
        # A single row: nobody adds or deletes it.
        default_permissions = ("view", "change")

    def __str__(self) -> str:
        return str(_("Session policy"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> SessionPolicy:
        """The policy in force (its defaults until an admin saves one)."""
        from django.core.cache import cache

        policy = cache.get(cls.CACHE_KEY)
        if policy is None:
            policy = cls.objects.filter(pk=1).first() or cls(pk=1)
            cache.set(cls.CACHE_KEY, policy, timeout=300)
        return policy

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.idle_timeout_minutes)

    @property
    def absolute_lifetime(self) -> timedelta:
        return timedelta(hours=self.absolute_lifetime_hours)

    @property
    def reauthentication_window(self) -> timedelta:
        return timedelta(minutes=self.reauthentication_minutes)


class UserSessionQuerySet(models.QuerySet):
    def active(self, policy: SessionPolicy | None = None):
        """Sessions that the policy has not timed out yet (a session whose
        browser simply went away stays in the table until it times out)."""
        policy = policy or SessionPolicy.current()
        now = timezone.now()
        return self.filter(
            last_active__gt=now - policy.idle_timeout,
            created__gt=now - policy.absolute_lifetime,
        )


class UserSession(models.Model):
    """One signed-in browser session of a user, shown on "Your sessions".

    ``session_key`` references Django's session store (django_session) so a
    revoked session can be deleted there; it is as secret as that table and is
    never shown: pages and URLs use ``uuid``.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="console_sessions",
        verbose_name=_("user"),
    )
    session_key = models.CharField(_("session key"), max_length=40, unique=True, editable=False)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    device = models.CharField(
        _("device"), max_length=200, blank=True, help_text=_("Browser and system, readable.")
    )
    created = models.DateTimeField(_("signed in"), default=timezone.now)
    last_active = models.DateTimeField(_("last active"), default=timezone.now)

    objects = UserSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-last_active"]
        verbose_name = _("user session")
        verbose_name_plural = _("user sessions")
        # Users see their own sessions; admins act through the users page and
        # Django admin (superusers). No role needs model permissions on it.
        default_permissions = ()
        indexes = [
            # "Your sessions" and the concurrent-session limit: one user's
            # sessions, oldest first.
            models.Index(fields=["user", "created"], name="usersession_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.device or _('unknown device')}"


class AllowlistEntryQuerySet(RestrictedQuerySet):
    def unexpired(self, now=None):
        now = now or timezone.now()
        return self.filter(models.Q(expires__isnull=True) | models.Q(expires__gt=now))


class AllowlistEntry(models.Model):
    """A network allowed to reach the console, the API or both.

    While no unexpired entry applies to a part, that part is open to every
    address; as soon as one does, only the listed networks get in. The
    middleware reads the entries from the cache (``security.allowlist``).
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    network = models.CharField(
        _("network"),
        max_length=43,
        help_text=_("An address or a CIDR block: 203.0.113.0/24, 2001:db8::/48, 198.51.100.7."),
    )
    comment = models.CharField(_("comment"), max_length=200, blank=True)
    scope = models.CharField(
        _("applies to"),
        max_length=10,
        choices=AllowlistScope.choices,
        default=AllowlistScope.BOTH,
    )
    expires = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("Optional: the entry stops letting anyone in at this time (UTC)."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    objects = AllowlistEntryQuerySet.as_manager()

    class Meta:
        ordering = ["network"]
        verbose_name = _("IP allowlist entry")
        verbose_name_plural = _("IP allowlist")

    def __str__(self) -> str:
        return self.network

    def get_absolute_url(self) -> str:
        return reverse("security:allowlistentry_edit", kwargs={"uuid": self.uuid})

    @property
    def scope_style(self) -> StatusStyle:
        return ALLOWLIST_SCOPE_STYLE.get(self.scope, UNKNOWN_STYLE)

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()
