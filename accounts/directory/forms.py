"""Forms of the Directory & SSO settings pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import GroupMapping, Role
from accounts.models.directory import DirectorySource
from console.forms import ScopedModelForm

MAX_PREVIEW_GROUPS = 200


class GroupMappingForm(ScopedModelForm):
    class Meta:
        model = GroupMapping
        fields = ["group", "source", "role", "regions", "description"]
        widgets = {"regions": forms.CheckboxSelectMultiple}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["role"].queryset = self.fields["role"].queryset.select_related("group")
        self.fields["source"].choices = [("", _("Any source")), *DirectorySource.choices]

    def clean_group(self):
        group = self.cleaned_data["group"].strip()
        if not group:
            raise forms.ValidationError(_("Name the directory group."))
        return group

    def clean_role(self):
        role = self.cleaned_data["role"]
        # Nobody hands out more than they hold, through a mapping either.
        user = self.user
        if user is not None and not user.is_superuser:
            codes = {
                f"{app}.{code}"
                for app, code in role.group.permissions.values_list(
                    "content_type__app_label", "codename"
                )
            }
            if not all(user.has_perm(code) for code in codes):
                raise forms.ValidationError(
                    _("This role grants permissions you do not hold yourself.")
                )
        return role


class MappingPreviewForm(forms.Form):
    """The "what would this user get?" preview: from groups typed in, or from the groups
    a user had at their last directory sign-in."""

    source = forms.ChoiceField(
        label=_("Source"),
        choices=[("", _("Any source")), *DirectorySource.choices],
        required=False,
    )
    groups = forms.CharField(
        label=_("Directory groups"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("One per line: names, DNs or claim values."),
    )
    username = forms.CharField(
        label=_("Or a directory user"),
        required=False,
        max_length=150,
        help_text=_("Uses the groups seen at their last sign-in or sync."),
    )

    def clean(self):
        data = super().clean()
        lines = [line.strip() for line in (data.get("groups") or "").splitlines()]
        data["group_list"] = [line for line in lines if line]
        if len(data["group_list"]) > MAX_PREVIEW_GROUPS:
            self.add_error("groups", _("At most %(n)d groups.") % {"n": MAX_PREVIEW_GROUPS})
        if not data["group_list"] and not (data.get("username") or "").strip():
            raise forms.ValidationError(_("Type some groups or the name of a directory user."))
        return data


class ScimTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Who uses it, such as “Okta production”.")
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Name the token."))
        return name


class SsoOnlyRolesForm(forms.Form):
    roles = forms.ModelMultipleChoiceField(
        label=_("Roles that must sign in with SSO"),
        queryset=Role.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Members of these roles cannot sign in with a password (local or LDAP), only "
            "through an SSO provider."
        ),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].queryset = (
            Role.objects.restrict(user, "view").select_related("group").order_by("group__name")
        )
