"""The origin (scheme and host) that the gateway's absolute links start with.

LAYERS_PUBLIC_BASE_URL wins when it is set. Otherwise a link starts with the scheme and Host the request
came with, so a partner gets back links to the address it called. Behind a reverse proxy that address is
the proxy's, which says so in X-Forwarded-Proto and X-Forwarded-Host; those headers are believed only
from a peer in LAYERS_TRUSTED_PROXIES (anyone else could name any host). uvicorn's own handling of them is
off (gateway.main), so the scheme seen here is the connection's own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# host or [v6]; an optional port. Anything else (a path, userinfo, spaces) is not a host to link to.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")
_SCHEMES = frozenset({"http", "https"})


class Origins:
    """Works out each request's origin from the settings' base URL and trusted proxies."""

    def __init__(self, public_base_url: str, trusted_proxies: Sequence[Network]) -> None:
        self._base = public_base_url.rstrip("/")
        self._trusted = tuple(trusted_proxies)

    def of(self, scope: Scope) -> str:
        if self._base:
            return self._base
        headers = Headers(scope=scope)
        scheme = str(scope.get("scheme", "http"))
        host = headers.get("host", "")
        if self._from_trusted_proxy(scope):
            forwarded_proto = _last(headers.get("x-forwarded-proto", "")).lower()
            forwarded_host = _last(headers.get("x-forwarded-host", ""))
            if forwarded_proto in _SCHEMES:
                scheme = forwarded_proto
            if _HOST.fullmatch(forwarded_host):
                host = forwarded_host
        if not _HOST.fullmatch(host):
            server = scope.get("server") or ("127.0.0.1", None)
            host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
        return f"{scheme}://{host}"

    def _from_trusted_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not self._trusted or not client:
            return False
        try:
            peer = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(peer in network for network in self._trusted)


def _last(value: str) -> str:
    """The value the nearest proxy set: proxies that append to a list put theirs last."""
    return value.rsplit(",", 1)[-1].strip()
