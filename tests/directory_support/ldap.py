"""A real OpenLDAP server (slapd) for the tests, started by python-ldap's
``slapdtest`` on a free loopback port with StartTLS (its bundled test CA).

People and groups, as an OpenLDAP directory holds them:

    cn=ops          members: alice, carol, dave, cn=netops   (nested)
    cn=netops       members: bob                             (bob is in ops through it)
    cn=auditors     members: alice
    cn=banned       members: dave                            (the deny group)
    cn=misc         members: erin                            (mapped to nothing)
    cn=console-users  alice, bob, carol, dave, erin          (the required group)
    frank: in no group at all; carol: employeeType=disabled
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.services import require

SUFFIX = "dc=example,dc=com"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
PASSWORD = "directory-password-1"
USERS = ("alice", "bob", "carol", "dave", "erin", "frank")


def dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: example\no: Example\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for uid in USERS:
        entry = (
            f"dn: {dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid.title()} Example\n"
            f"givenName: {uid.title()}\nsn: Example\nmail: {uid}@example.com\n"
            f"userPassword: {PASSWORD}\n"
        )
        if uid == "carol":
            entry += "employeeType: disabled\n"
        entries.append(entry)
    groups = {
        "netops": [dn("bob")],
        "ops": [dn("alice"), dn("carol"), dn("dave"), group_dn("netops")],
        # The admin entry keeps the group valid when tests remove alice.
        "auditors": [dn("alice"), f"cn=admin,{SUFFIX}"],
        "banned": [dn("dave")],
        "misc": [dn("erin")],
        "console-users": [dn(u) for u in ("alice", "bob", "carol", "dave", "erin")],
    }
    for cn, members in groups.items():
        lines = "".join(f"member: {m}\n" for m in members)
        entries.append(f"dn: {group_dn(cn)}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}")
    return "\n".join(entries)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory):
    """One slapd for the test session (per xdist worker)."""
    require(
        shutil.which("slapd") is not None or os.path.exists("/usr/sbin/slapd"),
        "slapd (Debian package slapd)",
    )
    try:
        import slapdtest
    except ImportError:
        require(False, "python-ldap (the ldap extra)")

    class Slapd(slapdtest.SlapdObject):
        suffix = SUFFIX
        root_cn = "admin"
        root_pw = "admin-password-1"
        openldap_schema_files = ("core.ldif", "cosine.ldif", "inetorgperson.ldif")
        TMPDIR = str(tmp_path_factory.mktemp("slapd"))

    server = Slapd()
    server.start()
    server.ldapadd(_ldif())
    try:
        yield server
    finally:
        server.stop()


def ldap_options(server, **overrides):
    """LdapOptions for the test slapd: search then bind over StartTLS."""
    from accounts.directory.config import LdapOptions

    values = {
        "server_uri": server.ldap_uri.rstrip("/"),
        "start_tls": True,
        "ca_file": server.cafile,
        "bind_dn": server.root_dn,
        "bind_password": server.root_pw,
        "user_search_base": PEOPLE,
        "user_search_filter": "(&(uid=%(user)s)(!(employeeType=disabled)))",
        "group_search_base": GROUPS,
        "group_type": "nestedGroupOfNames",
        "require_group": group_dn("console-users"),
        "deny_group": group_dn("banned"),
        "timeout": 3,
    }
    values.update(overrides)
    return LdapOptions(**values)


def use_directory(settings, options) -> None:
    """Point the console at ``options`` for one test (pytest-django's settings)."""
    for name, value in options.to_settings().items():
        setattr(settings, name, value)
    backend = "accounts.directory.backend.DirectoryLDAPBackend"
    if backend not in settings.AUTHENTICATION_BACKENDS:
        settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, backend]
