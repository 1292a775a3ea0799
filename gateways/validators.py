import ipaddress
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$"
)

INVALID_ADDRESS = _(
    "Enter an IPv4 or IPv6 address or a host name, such as 203.0.113.7 or gw.example.net."
)


def validate_address(value: str) -> None:
    """An IPv4/IPv6 address or a DNS host name."""
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    if not _HOSTNAME.match(value) or value.replace(".", "").isdigit():
        raise ValidationError(INVALID_ADDRESS, code="invalid_address")
