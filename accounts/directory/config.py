"""LDAP / Active Directory settings from the environment (docs/directory.md).

``LdapOptions.from_env()`` reads the ``LDAP_*`` variables (None when
``LDAP_SERVER_URI`` is unset: no directory); ``to_settings()`` turns them into
django-auth-ldap's ``AUTH_LDAP_*`` settings. Tests build ``LdapOptions``
directly for their own slapd. Nothing here touches the database, so
console/settings.py imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from console.env import env_bool, env_int, env_str

GROUP_TYPES = ("groupOfNames", "nestedGroupOfNames", "activeDirectory")
DEFAULT_GROUP_FILTER = {
    "groupOfNames": "(objectClass=groupOfNames)",
    "nestedGroupOfNames": "(objectClass=groupOfNames)",
    "activeDirectory": "(objectClass=group)",
}


@dataclass
class LdapOptions:
    server_uri: str
    start_tls: bool = False
    ca_file: str = ""
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    # Direct bind ("uid=%(user)s,ou=people,dc=example,dc=com"), else search then bind.
    user_dn_template: str = ""
    user_search_base: str = ""
    user_search_filter: str = "(uid=%(user)s)"
    group_search_base: str = ""
    group_type: str = "nestedGroupOfNames"
    group_filter: str = ""
    require_group: str = ""
    deny_group: str = ""
    attr_first_name: str = "givenName"
    attr_last_name: str = "sn"
    attr_email: str = "mail"
    timeout: int = 5

    def __post_init__(self):
        name = "LDAP_SERVER_URI"
        parsed = urlparse(self.server_uri)
        if parsed.scheme not in {"ldap", "ldaps"} or not parsed.hostname:
            raise ImproperlyConfigured(
                f"{name}={self.server_uri!r}: write ldap://host[:port] or ldaps://host[:port]."
            )
        if self.start_tls and parsed.scheme == "ldaps":
            raise ImproperlyConfigured("LDAP_START_TLS: the server URI is ldaps:// already.")
        if self.ca_file and not Path(self.ca_file).is_file():
            raise ImproperlyConfigured(f"LDAP_CA_FILE={self.ca_file!r} is not a readable file.")
        if not self.user_dn_template and not self.user_search_base:
            raise ImproperlyConfigured(
                "Set LDAP_USER_DN_TEMPLATE (direct bind) or LDAP_USER_SEARCH_BASE "
                "(search, then bind)."
            )
        if self.user_dn_template and "%(user)s" not in self.user_dn_template:
            raise ImproperlyConfigured("LDAP_USER_DN_TEMPLATE must contain %(user)s.")
        if not self.user_dn_template and "%(user)s" not in self.user_search_filter:
            raise ImproperlyConfigured("LDAP_USER_SEARCH_FILTER must contain %(user)s.")
        if self.bind_dn and not self.bind_password:
            # An empty password would make an anonymous bind out of it.
            raise ImproperlyConfigured("LDAP_BIND_DN is set: LDAP_BIND_PASSWORD is required.")
        if self.group_type not in GROUP_TYPES:
            raise ImproperlyConfigured(
                f"LDAP_GROUP_TYPE={self.group_type!r}: one of {', '.join(GROUP_TYPES)}."
            )
        if (self.require_group or self.deny_group) and not self.group_search_base:
            raise ImproperlyConfigured(
                "LDAP_REQUIRE_GROUP and LDAP_DENY_GROUP need LDAP_GROUP_SEARCH_BASE."
            )

    @property
    def uses_tls(self) -> bool:
        return self.start_tls or self.server_uri.startswith("ldaps://")

    @property
    def mode(self) -> str:
        return "direct_bind" if self.user_dn_template else "search_then_bind"

    @classmethod
    def from_env(cls) -> LdapOptions | None:
        uri = env_str("LDAP_SERVER_URI", "").strip()
        if not uri:
            return None
        defaults = cls.__dataclass_fields__
        group_type = env_str("LDAP_GROUP_TYPE", defaults["group_type"].default)
        return cls(
            server_uri=uri,
            start_tls=env_bool("LDAP_START_TLS", False),
            ca_file=env_str("LDAP_CA_FILE", ""),
            bind_dn=env_str("LDAP_BIND_DN", ""),
            bind_password=env_str("LDAP_BIND_PASSWORD", ""),
            user_dn_template=env_str("LDAP_USER_DN_TEMPLATE", ""),
            user_search_base=env_str("LDAP_USER_SEARCH_BASE", ""),
            user_search_filter=env_str(
                "LDAP_USER_SEARCH_FILTER", defaults["user_search_filter"].default
            ),
            group_search_base=env_str("LDAP_GROUP_SEARCH_BASE", ""),
            group_type=group_type,
            group_filter=env_str("LDAP_GROUP_FILTER", ""),
            require_group=env_str("LDAP_REQUIRE_GROUP", ""),
            deny_group=env_str("LDAP_DENY_GROUP", ""),
            attr_first_name=env_str("LDAP_ATTR_FIRST_NAME", "givenName"),
            attr_last_name=env_str("LDAP_ATTR_LAST_NAME", "sn"),
            attr_email=env_str("LDAP_ATTR_EMAIL", "mail"),
            timeout=env_int("LDAP_TIMEOUT", 5, minimum=1),
        )

    def summary(self) -> dict:
        """What Settings → Directory shows: everything but the password."""
        shown = asdict(self)
        shown["bind_password"] = "••••••" if self.bind_password else ""
        shown["mode"] = self.mode
        shown["group_filter"] = self.group_filter or DEFAULT_GROUP_FILTER[self.group_type]
        return shown

    def group_type_object(self):
        from django_auth_ldap.config import GroupOfNamesType, NestedGroupOfNamesType

        from accounts.directory.ldap_groups import ActiveDirectoryInChainGroupType

        return {
            "groupOfNames": GroupOfNamesType,
            "nestedGroupOfNames": NestedGroupOfNamesType,
            "activeDirectory": ActiveDirectoryInChainGroupType,
        }[self.group_type]()

    def connection_options(self) -> dict:
        import ldap

        options = {
            ldap.OPT_NETWORK_TIMEOUT: self.timeout,
            ldap.OPT_TIMEOUT: self.timeout,
            ldap.OPT_REFERRALS: 0,  # Active Directory's referrals need a second bind
        }
        if self.uses_tls:
            # Certificates are always checked: there is no switch to skip it.
            options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
            if self.ca_file:
                options[ldap.OPT_X_TLS_CACERTFILE] = self.ca_file
            # Last: makes libldap build a TLS context with the options above.
            options[ldap.OPT_X_TLS_NEWCTX] = 0
        return options

    def to_settings(self) -> dict:
        try:
            import ldap
            from django_auth_ldap.config import LDAPSearch
        except ImportError as exc:
            raise ImproperlyConfigured(
                "LDAP_SERVER_URI is set but python-ldap / django-auth-ldap are not installed: "
                'pip install -e ".[ldap]" (needs libldap2-dev and libsasl2-dev).'
            ) from exc
        values = {
            "AUTH_LDAP_SERVER_URI": self.server_uri,
            "AUTH_LDAP_START_TLS": self.start_tls,
            "AUTH_LDAP_CONNECTION_OPTIONS": self.connection_options(),
            "AUTH_LDAP_BIND_DN": self.bind_dn,
            "AUTH_LDAP_BIND_PASSWORD": self.bind_password,
            # An empty password would be an anonymous bind, which succeeds.
            "AUTH_LDAP_PERMIT_EMPTY_PASSWORD": False,
            "AUTH_LDAP_USER_ATTR_MAP": {
                key: attr
                for key, attr in (
                    ("first_name", self.attr_first_name),
                    ("last_name", self.attr_last_name),
                    ("email", self.attr_email),
                )
                if attr
            },
            "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
            # Roles come from the group mappings (accounts.directory.mapping),
            # never from django-auth-ldap's own group permission features.
            "AUTH_LDAP_FIND_GROUP_PERMS": False,
            "AUTH_LDAP_MIRROR_GROUPS": False,
            "AUTH_LDAP_CACHE_TIMEOUT": 0,
            "AUTH_LDAP_REQUIRE_GROUP": self.require_group or None,
            "AUTH_LDAP_DENY_GROUP": self.deny_group or None,
            "DIRECTORY_LDAP": self,
        }
        if self.user_dn_template:
            values["AUTH_LDAP_USER_DN_TEMPLATE"] = self.user_dn_template
        else:
            values["AUTH_LDAP_USER_SEARCH"] = LDAPSearch(
                self.user_search_base, ldap.SCOPE_SUBTREE, self.user_search_filter
            )
        if self.group_search_base:
            values["AUTH_LDAP_GROUP_SEARCH"] = LDAPSearch(
                self.group_search_base,
                ldap.SCOPE_SUBTREE,
                self.group_filter or DEFAULT_GROUP_FILTER[self.group_type],
            )
            values["AUTH_LDAP_GROUP_TYPE"] = self.group_type_object()
        return values
