"""Which address a request comes from, and whether it is in a list of networks.

The client address is ``REMOTE_ADDR`` unless that peer is one of our own
reverse proxies (``TRUSTED_PROXIES``): only then is ``X-Forwarded-For`` read,
from the right, skipping our proxies, so that a client cannot choose its own
address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_network(value: str) -> Network:
    """A network from "10.0.0.0/8", "2001:db8::/32" or a single address (a /32
    or /128). Host bits are cleared: "10.1.2.3/8" means 10.0.0.0/8.
    Raises ValueError on anything else."""
    return ipaddress.ip_network(value.strip(), strict=False)


def parse_address(value: str | None) -> Address | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket: compare it as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def in_networks(address: Address | None, networks: Iterable[Network]) -> bool:
    if address is None:
        return False
    return any(address.version == net.version and address in net for net in networks)


@lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(parse_network(p) for p in proxies)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None


def trusted_proxies() -> tuple[Network, ...]:
    return _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ())))


def client_address(request) -> Address | None:
    """The client's address (see the module docstring); None when unknown."""
    cached = getattr(request, "_client_address", False)
    if cached is not False:
        return cached
    remote = parse_address(request.META.get("REMOTE_ADDR"))
    address = remote
    proxies = trusted_proxies()
    if remote is not None and proxies and in_networks(remote, proxies):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            hop_address = parse_address(hop)
            if hop_address is None:
                # Not an address where the client's should be: unknown, which
                # an active allowlist refuses (rather than trusting our proxy).
                address = None
                break
            address = hop_address
            if not in_networks(hop_address, proxies):
                break
    request._client_address = address
    return address


def client_ip(request) -> str | None:
    """The client's address as text (for django-axes, logs and sessions)."""
    address = client_address(request)
    return str(address) if address is not None else None
