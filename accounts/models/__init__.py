"""Accounts models, one module per concern: users and roles; API keys,
sessions and the rest join as their own modules and are imported here."""

from accounts.models.api_keys import ApiKey
from accounts.models.directory import (  # docs/directory.md
    DirectoryGroup,
    DirectoryIdentity,
    GroupMapping,
    RoleSignInPolicy,
    ScimToken,
)
from accounts.models.invitations import Invitation
from accounts.models.users import Role, User

__all__ = [
    "ApiKey",
    "DirectoryGroup",
    "DirectoryIdentity",
    "GroupMapping",
    "Invitation",
    "Role",
    "RoleSignInPolicy",
    "ScimToken",
    "User",
]
