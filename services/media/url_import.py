"""ImportMedia: fetch a partner's https URL into the blob store without letting it reach into our network.

The SSRF guard (common.ssrf, the one webhooks use too) runs on every hop (the URL and each redirect, at
most 3): https only, and every address the host name resolves to must be a public one. The connection
then goes to one of exactly those checked addresses, so a DNS answer that changes between the check and
the connect (rebinding) cannot slip past it. Hosts named in `fetch_allowed_hosts` skip the address check
(tests serve files from loopback); nothing is allowed by default. Timeouts bound each socket operation
and the whole fetch; the size cap is the blob store's, counted on the bytes that arrive.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from common.errors import ServiceError, invalid
from common.ssrf import OutboundGuard, Refused, is_public, split_hosts
from services.media.blob_store import too_large
from services.media.library import KINDS, MediaLibrary
from services.media.models import MediaItemRow

MAX_REDIRECTS = 3
CHUNK_BYTES = 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "layers-media-import/1"


def refused(reason: str, message: str) -> ServiceError:
    return invalid(message, field="url", reason=reason)


__all__ = ["Fetched", "UrlFetcher", "UrlImporter", "is_public", "refused"]


@dataclass(frozen=True)
class Fetched:
    mime_type: str
    chunks: Iterator[bytes]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `host` (SNI, certificate and Host header), connected only to addresses already checked."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float, tls: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=tls)
        self._addresses = addresses
        self._tls = tls

    def connect(self) -> None:
        error: OSError = OSError("no address to connect to")
        for address in self._addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                error = exc
                continue
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            return
        raise error


class UrlFetcher:
    def __init__(self, allowed_hosts: str, timeout_seconds: float, max_bytes: int, ca_file: Path | None) -> None:
        self._guard = OutboundGuard(split_hosts(allowed_hosts))
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._tls = ssl.create_default_context()
        if ca_file is not None:
            self._tls.load_verify_locations(cafile=str(ca_file))

    def open(self, url: str) -> Fetched:
        """Follow the URL (and its redirects) to a 200 answer; its body streams from `chunks`."""
        deadline = time.monotonic() + self._timeout
        for _ in range(MAX_REDIRECTS + 1):
            host, port, target = _parse(url)
            connection = _PinnedHTTPSConnection(host, port, self._addresses(host, port), self._timeout, self._tls)
            try:
                connection.request("GET", target, headers={"User-Agent": _USER_AGENT, "Accept": "*/*"})
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise refused("URL_FETCH_FAILED", f"The URL could not be fetched: {_why(exc)}.") from exc
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                connection.close()
                if not location:
                    raise refused("URL_FETCH_FAILED", "The URL redirected without a Location.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                connection.close()
                raise refused("URL_FETCH_FAILED", f"The URL answered HTTP {response.status}, not 200.")
            declared = response.getheader("Content-Length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                connection.close()
                raise too_large(self._max_bytes)
            mime = (response.getheader("Content-Type") or "").split(";", 1)[0].strip()[:255]
            return Fetched(mime, _body(connection, response, deadline))
        raise refused("TOO_MANY_REDIRECTS", f"The URL redirected more than {MAX_REDIRECTS} times.")

    def _addresses(self, host: str, port: int) -> list[str]:
        try:
            return self._guard.addresses(host, port)
        except Refused as exc:
            reason = "URL_FORBIDDEN" if exc.reason == "URL_FORBIDDEN" else "URL_FETCH_FAILED"
            raise refused(reason, exc.message) from exc


def _parse(url: str) -> tuple[str, int, str]:
    """Host, port and request target of an https URL; anything else is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as exc:
        raise refused("URL_INVALID", "The URL is not valid.") from exc
    if parts.scheme.lower() != "https":
        raise refused("URL_NOT_HTTPS", "Only https URLs can be imported.")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise refused("URL_INVALID", "The URL needs a host name and no credentials.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, target


def _body(
    connection: http.client.HTTPSConnection, response: http.client.HTTPResponse, deadline: float
) -> Iterator[bytes]:
    try:
        while True:
            if time.monotonic() > deadline:
                raise refused("URL_FETCH_FAILED", "The URL took too long to download.")
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise refused("URL_FETCH_FAILED", f"The download broke off: {_why(exc)}.") from exc
            if not chunk:
                return
            yield chunk
    finally:
        connection.close()


def _why(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "its TLS certificate is not trusted"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "it timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "the body ended early"
    return "the connection failed"


class UrlImporter:
    """Checks the request, fetches the URL into a blob, and files it like CreateMedia (which probes it)."""

    def __init__(self, library: MediaLibrary, fetcher: UrlFetcher) -> None:
        self._library = library
        self._fetcher = fetcher

    def import_media(self, organization_id: str, project_id: str, kind: str, url: str) -> MediaItemRow:
        for field, value in (("organization_id", organization_id), ("project_id", project_id), ("url", url)):
            if not value:
                raise invalid(f"{field} is required.", field=field)
        if kind not in KINDS:
            raise invalid(f"kind must be one of {', '.join(KINDS)}.", field="kind")
        if len(url) > 2048:
            raise refused("URL_INVALID", "The URL is longer than 2048 characters.")
        fetched = self._fetcher.open(url)
        blob = self._library.write_blob(fetched.mime_type, 0, fetched.chunks)
        return self._library.create_media(organization_id, project_id, kind, blob.blob_id)
