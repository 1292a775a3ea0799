from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Accounts are created by admins (and, later, by directory provisioning);
    nobody signs themselves up."""

    def is_open_for_signup(self, request) -> bool:
        return False
