import ipaddress

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def parse_subnets(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated networks in CIDR notation, host bits allowed
    (``10.1.2.3/24`` means ``10.1.2.0/24``). Raises ValidationError naming
    the first entry that is not a network."""
    networks = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValidationError(
                _("“%(value)s” is not a network. Use CIDR notation, such as 10.20.0.0/16."),
                code="invalid_subnet",
                params={"value": item},
            ) from None
    return networks


def validate_subnets(value: str) -> None:
    parse_subnets(value)
