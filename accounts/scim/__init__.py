"""SCIM 2.0 provisioning (RFC 7643/7644) for Okta, Entra ID and the like:
Users and Groups under /scim/v2/, authenticated by a SCIM token of its own
kind (accounts.models.ScimToken), never by a session or an API key."""
