"""Settings → Directory → Test connection: each step against the real
directory, in words (docs/directory.md). Never shows the bind password and
never binds anonymously; a failed step ends the test."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import ldap
from django.utils.translation import gettext as _

from accounts.directory import mapping


@dataclass
class Step:
    label: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    grant: object = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def add(self, label, ok, detail=""):
        self.steps.append(Step(str(label), ok, str(detail)))
        return ok


def explain(exc: ldap.LDAPError, options) -> str:
    """An LDAP error in words an admin can act on."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    said = info.get("info") or info.get("desc") or type(exc).__name__
    if isinstance(exc, ldap.SERVER_DOWN):
        if "certificate" in str(said).lower() or "tls" in str(said).lower():
            return _(
                "The TLS handshake failed: the server's certificate could not be verified "
                "with the CA file (%(said)s)."
            ) % {"said": said}
        return _(
            "The server does not answer at %(uri)s: is it running, and is the port open "
            "from this machine?"
        ) % {"uri": options.server_uri}
    if isinstance(exc, ldap.CONNECT_ERROR):
        return _("TLS could not be started: %(said)s.") % {"said": said}
    if isinstance(exc, ldap.TIMEOUT):
        return _("The server did not answer within %(n)d seconds.") % {"n": options.timeout}
    if isinstance(exc, ldap.INVALID_CREDENTIALS):
        return _("The server refused the service account's DN or password.")
    if isinstance(exc, ldap.NO_SUCH_OBJECT):
        return _("The search base does not exist on the server (%(said)s).") % {"said": said}
    if isinstance(exc, ldap.FILTER_ERROR):
        return _("The search filter is not valid LDAP.")
    return _("The server answered with an error: %(said)s.") % {"said": said}


def test_connection(options, username: str) -> Report:
    report = Report()
    username = username.strip()
    conn = ldap.initialize(options.server_uri, bytes_mode=False)
    try:
        for opt, value in options.connection_options().items():
            conn.set_option(opt, value)
        if options.start_tls:
            try:
                conn.start_tls_s()
            except ldap.LDAPError as exc:
                report.add(_("Start TLS"), False, explain(exc, options))
                return report
            report.add(
                _("Start TLS"), True, _("The connection is encrypted; certificate verified.")
            )
        if options.bind_dn:
            try:
                conn.simple_bind_s(options.bind_dn, options.bind_password)
            except ldap.LDAPError as exc:
                report.add(_("Bind as the service account"), False, explain(exc, options))
                return report
            report.add(
                _("Bind as the service account"),
                True,
                _("Signed in to %(uri)s as %(dn)s.")
                % {"uri": options.server_uri, "dn": options.bind_dn},
            )
        else:
            # Without a service account only a user's own password can bind.
            try:
                conn.whoami_s()
            except ldap.LDAPError as exc:
                report.add(_("Reach the server"), False, explain(exc, options))
                return report
            report.add(
                _("Reach the server"),
                True,
                _(
                    "%(uri)s answers. No service account is set (direct bind): the user "
                    "search below runs unauthenticated and may see nothing."
                )
                % {"uri": options.server_uri},
            )
        if not username:
            return report
        escaped = ldap.filter.escape_filter_chars(username)
        try:
            if options.user_dn_template:
                user_dn = options.user_dn_template % {"user": ldap.dn.escape_dn_chars(username)}
                found = conn.search_s(user_dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
            else:
                found = conn.search_s(
                    options.user_search_base,
                    ldap.SCOPE_SUBTREE,
                    options.user_search_filter % {"user": escaped},
                    ["1.1"],
                )
        except ldap.NO_SUCH_OBJECT:
            found = []
        except ldap.LDAPError as exc:
            report.add(_("Find the user"), False, explain(exc, options))
            return report
        found = [(dn, attrs) for dn, attrs in found if dn]
        if len(found) != 1:
            report.add(
                _("Find the user"),
                False,
                _("No entry matches %(user)s.") % {"user": username}
                if not found
                else _("%(n)d entries match %(user)s; a user must match exactly one.")
                % {"n": len(found), "user": username},
            )
            return report
        user_dn = found[0][0]
        report.add(_("Find the user"), True, _("Found %(dn)s.") % {"dn": user_dn})
        if not options.group_search_base:
            report.add(
                _("List the user's groups"),
                True,
                _("No group search is configured (LDAP_GROUP_SEARCH_BASE): no groups."),
            )
            return report
        try:
            groups = list_groups(conn, options, user_dn)
        except ldap.LDAPError as exc:
            report.add(_("List the user's groups"), False, explain(exc, options))
            return report
        report.groups = groups
        report.add(
            _("List the user's groups"),
            True,
            (_("%(n)d group(s), nested ones included.") % {"n": len(groups)})
            if groups
            else _("The user is in no group under %(base)s.") % {"base": options.group_search_base},
        )
        report.grant = mapping.resolve("ldap", groups)
        return report
    finally:
        with contextlib.suppress(ldap.LDAPError):
            conn.unbind_s()


def list_groups(conn, options, user_dn: str) -> list[str]:
    """The user's groups as the backend sees them: DNs and names."""
    from django_auth_ldap.config import LDAPSearch

    search = LDAPSearch(
        options.group_search_base,
        ldap.SCOPE_SUBTREE,
        options.group_filter or _default_filter(options),
    )
    group_type = options.group_type_object()

    class _User:  # what the group types read
        dn = user_dn
        connection = conn

    infos = group_type.user_groups(_User(), search)
    names = []
    for dn, attrs in infos:
        names.append(dn)
        name = group_type.group_name_from_info((dn, attrs))
        if name:
            names.append(name)
    return mapping.normalise_groups(names)


def _default_filter(options):
    from accounts.directory.config import DEFAULT_GROUP_FILTER

    return DEFAULT_GROUP_FILTER[options.group_type]
