from __future__ import annotations

import time
from datetime import timedelta

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import update_last_login
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import match_token, user_has_device
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import Role
from accounts.models.api_keys import READ, SCOPE_DOMAINS, WRITE, ApiKey

BAD_CREDENTIALS = _("No active account with this username and password.")


def must_use_mfa(user) -> bool:
    """Set on the user or by one of their roles (docs/roles.md)."""
    return user.mfa_required or Role.objects.filter(group__user=user, mfa_required=True).exists()


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(write_only=True, max_length=150)
    password = serializers.CharField(
        write_only=True, max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
    otp = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=32,
        help_text=_("The current code of your second factor; required when you have one."),
    )
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)

    def validate(self, attrs):
        request = self.context.get("request")
        # authenticate(): inactive users, service accounts (no password) and
        # wrong passwords all answer None; failures send user_login_failed.
        user = authenticate(
            request._request if request else None,
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(BAD_CREDENTIALS, code="no_active_account")
        if user_has_device(user, confirmed=True):
            code = attrs.get("otp", "").replace(" ", "")
            if not code:
                raise serializers.ValidationError(
                    {"otp": [_("This account uses a second factor: send its current code.")]},
                    code="otp_required",
                )
            # django-otp checks every device (and throttles failures on each).
            if match_token(user, code) is None:
                raise exceptions.AuthenticationFailed(
                    {"otp": [_("This code is wrong, expired or already used.")]},
                    code="otp_invalid",
                )
        elif must_use_mfa(user):
            raise exceptions.PermissionDenied(
                _("Your account must use a second factor: set one up in the console first."),
                code="mfa_enrolment_required",
            )
        refresh = RefreshToken.for_user(user)
        # When the person signed in (OIDC's claim; access tokens copy it):
        # what revocation compares, to the sub-second (accounts/api_auth/tokens.py).
        refresh["auth_time"] = time.time()
        update_last_login(None, user)
        return {"access": str(refresh.access_token), "refresh": str(refresh)}


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's rotation (the used refresh token is blacklisted, a new one
    issued), plus: a deleted user is a 401 rather than an error, and so is a
    password changed since the token was issued."""

    refresh = serializers.CharField(max_length=4096)
    access = serializers.CharField(read_only=True)

    def validate(self, attrs):
        try:
            token = RefreshToken(attrs["refresh"])
        except TokenError as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="token_not_valid") from None
        user = (
            get_user_model()
            .objects.filter(**{api_settings.USER_ID_FIELD: token.get(api_settings.USER_ID_CLAIM)})
            .first()
        )
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(
                _("No active account found for the given token."), code="no_active_account"
            )
        if token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise exceptions.AuthenticationFailed(
                _("The password changed since this token was issued."), code="password_changed"
            )
        try:
            return super().validate(attrs)
        except TokenError as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="token_not_valid") from None


class RevokeSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True, max_length=4096)
    all = serializers.BooleanField(
        default=False,
        help_text=_("Revoke every token of this user, not only this refresh token."),
    )

    def validate(self, attrs):
        try:
            attrs["token"] = RefreshToken(attrs["refresh"])
        except TokenError as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="token_not_valid") from None
        return attrs


class ScopesField(serializers.DictField):
    """{"gateways": "read", "tunnels": "write", …}: domains left out are refused."""

    child = serializers.ChoiceField(choices=[READ, WRITE])

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(SCOPE_DOMAINS))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown domain(s): %(names)s. Domains: %(domains)s.")
                % {"names": ", ".join(unknown), "domains": ", ".join(SCOPE_DOMAINS)}
            )
        if not value:
            raise serializers.ValidationError(_("Give the key at least one scope."))
        return value


MAX_KEY_DAYS = 3650


class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    scopes = ScopesField()
    expires_in_days = serializers.IntegerField(
        write_only=True,
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_KEY_DAYS,
        help_text=_("Days until the key expires; null or left out: it never expires."),
    )
    owner = serializers.CharField(source="owner.username", read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "owner",
            "scopes",
            "expires_in_days",
            "expires",
            "created",
            "last_used",
            "revoked",
            "status",
        ]
        read_only_fields = ["prefix", "expires", "created", "last_used", "revoked"]

    def create(self, validated_data):
        days = validated_data.pop("expires_in_days", None)
        user = self.context["request"].user
        api_key, key = ApiKey.issue(
            owner=user,
            name=validated_data["name"],
            scopes=validated_data["scopes"],
            expires=timezone.now() + timedelta(days=days) if days else None,
            created_by=user,
        )
        api_key.key = key  # for the one answer that shows it
        return api_key


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(
        read_only=True, help_text=_("The key itself: shown in this answer only.")
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
