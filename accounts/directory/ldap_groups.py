"""Active Directory nested groups in one query.

Active Directory resolves nesting itself with the LDAP_MATCHING_RULE_IN_CHAIN
(OID 1.2.840.113556.1.4.1941): ``(member:1.2.840.113556.1.4.1941:=<user DN>)``
finds every group the user is in, directly or through other groups. That is
one search instead of django-auth-ldap's level-by-level walk
(``NestedActiveDirectoryGroupType``), which costs a round trip per level.
OpenLDAP does not implement this rule: use ``nestedGroupOfNames`` there.
"""

from __future__ import annotations

import ldap
from django_auth_ldap.config import LDAPGroupType

MATCHING_RULE_IN_CHAIN = "1.2.840.113556.1.4.1941"


def in_chain_filter(member_attr: str, dn: str) -> str:
    return f"({member_attr}:{MATCHING_RULE_IN_CHAIN}:={ldap.filter.escape_filter_chars(dn)})"


class ActiveDirectoryInChainGroupType(LDAPGroupType):
    def __init__(self, member_attr: str = "member", name_attr: str = "cn"):
        self.member_attr = member_attr
        super().__init__(name_attr)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.member_attr}>"

    def user_groups(self, ldap_user, group_search):
        search = group_search.search_with_additional_term_string(
            in_chain_filter(self.member_attr, ldap_user.dn)
        )
        return search.execute(ldap_user.connection)

    def is_member(self, ldap_user, group_dn):
        search = ldap_user.connection.search_s(
            group_dn, ldap.SCOPE_BASE, in_chain_filter(self.member_attr, ldap_user.dn), ["1.1"]
        )
        return bool(search)
