"""Forms of the users and roles pages.

Nobody can hand out more than they hold: the roles a user may assign and the
permissions they may put in a role are limited to their own permissions.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from accounts.roles import CONSOLE_APPS, INTERNAL_MODELS
from console.forms import ScopedModelForm


def console_permissions():
    """Every permission a role may carry, in a stable order."""
    return [
        perm
        for perm in Permission.objects.filter(content_type__app_label__in=CONSOLE_APPS)
        .select_related("content_type")
        .order_by("content_type__app_label", "content_type__model", "codename")
        if (perm.content_type.app_label, perm.content_type.model) not in INTERNAL_MODELS
    ]


def perm_code(perm) -> str:
    return f"{perm.content_type.app_label}.{perm.codename}"


def grantable_groups(user):
    """Roles ``user`` may assign: those whose permissions they hold all of."""
    if user.is_superuser:
        return Group.objects.order_by("name")
    held = {tuple(code.split(".", 1)) for code in user.get_all_permissions()}
    allowed = [
        group.pk
        for group in Group.objects.prefetch_related("permissions__content_type")
        if all((p.content_type.app_label, p.codename) in held for p in group.permissions.all())
    ]
    return Group.objects.filter(pk__in=allowed).order_by("name")


class RoleChoiceField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, group):
        role = getattr(group, "role", None)
        if role is not None and role.description:
            return f"{group.name} — {role.description}"
        return group.name


class UserAccessForm(ScopedModelForm):
    """Who a user is and what they may do: shared by Invite and Edit."""

    roles = RoleChoiceField(queryset=Group.objects.none(), required=False, label=_("Roles"))

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "roles", "regions", "mfa_required"]
        widgets = {"regions": forms.CheckboxSelectMultiple}
        help_texts = {
            "regions": _(
                "Tick regions to limit this user to them, whatever their roles grant. "
                "Leave all unticked to let the roles decide."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].queryset = grantable_groups(self.user).select_related("role")
        self.fields["email"].required = True
        if self.instance.pk:
            self.fields["roles"].initial = list(self.instance.groups.values_list("pk", flat=True))

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        clash = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another user already has this email address."))
        return email

    def clean_roles(self):
        roles = self.cleaned_data["roles"]
        if self.instance.pk and self.instance.pk == self.user.pk:
            current = set(self.instance.groups.values_list("pk", flat=True))
            if current != {g.pk for g in roles}:
                raise forms.ValidationError(
                    _("You cannot change your own roles; ask another admin.")
                )
        return roles

    def clean_regions(self):
        regions = self.cleaned_data["regions"]
        if self.instance.pk and self.instance.pk == self.user.pk:
            current = set(self.instance.regions.values_list("pk", flat=True))
            if current != {r.pk for r in regions}:
                raise forms.ValidationError(
                    _("You cannot change your own regions; ask another admin.")
                )
        return regions

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            self._save_roles(user)
        return user

    def _save_roles(self, user):
        # Keep roles the editor may not assign (they could not see them).
        assignable = set(self.fields["roles"].queryset.values_list("pk", flat=True))
        kept = set(user.groups.exclude(pk__in=assignable).values_list("pk", flat=True))
        user.groups.set(kept | {g.pk for g in self.cleaned_data["roles"]})


class InviteForm(UserAccessForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        required=False,
        help_text=_("Leave empty to use the part of the email before the @."),
    )

    class Meta(UserAccessForm.Meta):
        fields = [
            "email",
            "username",
            "first_name",
            "last_name",
            "roles",
            "regions",
            "mfa_required",
        ]

    def clean_username(self):
        username = self.cleaned_data.get("username", "").strip()
        if username:
            User.username_validator(username)
            if User.objects.filter(username__iexact=username).exists():
                raise forms.ValidationError(_("This username is taken."))
        return username

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("username") and cleaned.get("email"):
            base = cleaned["email"].split("@", 1)[0][:140] or "user"
            username, n = base, 1
            while User.objects.filter(username__iexact=username).exists():
                n += 1
                username = f"{base}{n}"
            cleaned["username"] = username
        return cleaned

    @transaction.atomic
    def save(self, commit=True):
        user = super().save(commit=False)
        user.username = self.cleaned_data["username"]
        user.is_active = False  # until they accept and choose a password
        user.set_unusable_password()
        user.save()
        self.save_m2m()
        self._save_roles(user)
        return user


class PermissionsField(forms.MultipleChoiceField):
    """Permissions as checkboxes grouped by app, values "app.codename"."""

    widget = forms.CheckboxSelectMultiple


class RoleForm(ScopedModelForm):
    name = forms.CharField(label=_("Name"), max_length=150)
    permissions = PermissionsField(
        label=_("Permissions"),
        required=False,
        help_text=_("You can grant only permissions you hold yourself."),
    )

    class Meta:
        model = Role
        fields = ["name", "description", "permissions", "regions", "mfa_required"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "regions": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "regions": _("Limit what this role grants to these regions. None ticked: all regions."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        held = None if self.user.is_superuser else self.user.get_all_permissions()
        grouped: dict[str, list[tuple[str, str]]] = {}
        for perm in console_permissions():
            code = perm_code(perm)
            if held is not None and code not in held:
                continue
            app = perm.content_type.app_label
            grouped.setdefault(app.capitalize(), []).append((code, perm.name))
        self.fields["permissions"].choices = list(grouped.items())
        if self.instance.pk:
            self.fields["name"].initial = self.instance.group.name
            self.fields["permissions"].initial = [
                perm_code(p) for p in self.instance.group.permissions.select_related("content_type")
            ]
            if self.instance.built_in:
                # Built-in roles keep their name and documented permissions.
                for name in ("name", "permissions"):
                    self.fields[name].disabled = True
                self.fields["permissions"].help_text = _(
                    "Built-in roles keep the permissions listed in docs/roles.md."
                )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = Group.objects.filter(name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.group_id)
        if clash.exists():
            raise forms.ValidationError(_("A role with this name already exists."))
        return name

    @transaction.atomic
    def save(self, commit=True):
        role = super().save(commit=False)
        group = role.group if role.pk else Group()
        if not role.built_in:
            group.name = self.cleaned_data["name"]
            group.save()
            wanted = set(self.cleaned_data["permissions"])
            by_code = {perm_code(p): p.pk for p in console_permissions()}
            group.permissions.set([by_code[c] for c in wanted if c in by_code])
        role.group = group
        role.save()
        self.save_m2m()
        return role
