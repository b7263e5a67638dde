"""The one SSRF guard of every outbound request to a partner's URL (app-media URL imports, webhooks).

`OutboundGuard.addresses(host, port)` resolves a host name and returns the addresses a connection may go
to, or refuses: every address the name resolves to must be a public one (no loopback, private,
link-local, metadata, multicast or reserved address). Callers then connect to exactly those addresses
(pinning), so a DNS answer that changes between the check and the connect (rebinding) cannot slip past.
Hosts in `allowed_hosts` skip the address check (tests serve from loopback); `loopback_hosts` are names
whose loopback answers are accepted (the embedded default's local receivers), nothing else about them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

Resolver = Callable[..., list[tuple[Any, ...]]]


class Refused(Exception):
    """The guard refused a host: `reason` is an UPPER_SNAKE word, the message is for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# IPv6 ranges that carry an IPv4 address a translator or tunnel would forward to: judged by that address
# (64:ff9b::1.2.3.4 reaches 1.2.3.4 through NAT64). `is_global` alone calls most of them public.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT, ::ffff:0:a.b.c.d
# Never a partner's address: local-use NAT64 (its IPv4 may be anywhere inside), IPv4-compatible (deprecated,
# ::a.b.c.d), Teredo (tunnels to the IPv4 of its server and client).
_NEVER = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("2001::/32"),
)


def _global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global is False for loopback, private, link-local (169.254.169.254 metadata), shared and reserved.
    return ip.is_global and not ip.is_multicast


def is_public(address: str) -> bool:
    """True for an address on the public internet; False for anything internal or special-purpose,
    including an IPv6 address that embeds an internal IPv4 one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _global(ip)
    if ip.ipv4_mapped is not None:
        return _global(ip.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in network for network in _NEVER):
        return False
    embedded = ip.sixtofour  # 2002:a.b.c.d::/48
    if ip in _NAT64 or ip in _TRANSLATED:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if embedded is not None and not _global(embedded):
        return False
    return _global(ip)


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def split_hosts(value: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in value.split(",") if h.strip())


class OutboundGuard:
    def __init__(
        self,
        allowed_hosts: Iterable[str] = (),
        loopback_hosts: Iterable[str] = (),
        resolver: Resolver = socket.getaddrinfo,
    ) -> None:
        self.allowed = frozenset(h.lower() for h in allowed_hosts)
        self.loopback_hosts = frozenset(h.lower() for h in loopback_hosts)
        self._resolve = resolver

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of host:port, in resolver order; raises Refused."""
        name = host.lower().strip("[]")
        try:
            infos = self._resolve(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Refused("HOST_UNRESOLVABLE", "The URL's host name does not resolve.") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise Refused("HOST_UNRESOLVABLE", "The URL's host name does not resolve.")
        if name in self.allowed:
            return addresses
        if name in self.loopback_hosts and all(is_loopback(a) for a in addresses):
            return addresses
        if not all(is_public(a) for a in addresses):
            raise Refused("URL_FORBIDDEN", "The URL points to an address that is not on the public internet.")
        return addresses
