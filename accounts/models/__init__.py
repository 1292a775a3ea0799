"""Accounts models, one module per concern: users and roles; API keys,
sessions and the rest join as their own modules and are imported here."""

from accounts.models.api_keys import ApiKey
from accounts.models.invitations import Invitation
from accounts.models.users import Role, User

__all__ = ["ApiKey", "Invitation", "Role", "User"]
