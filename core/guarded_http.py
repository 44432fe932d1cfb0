"""The one HTTP client core uses: :class:`GuardedHttpClient`, a :class:`core.fetching.Fetcher`.

Guards (each refusal is a :class:`core.errors.FetchRefused` with a readable reason):

* only ``http`` and ``https`` URLs, without user:password, on every redirect hop too;
* at most ``max_redirects`` redirects, each re-checked like the first URL;
* no private, loopback, link-local, multicast, reserved, unspecified or otherwise non-global
  address (IPv4 and IPv6, including IPv4-mapped, 6to4 and NAT64 forms) unless private fetching is
  allowed or the host is in the allow-list. The check is made on the address actually connected
  to: the client resolves the name itself, checks every address, connects to a checked address and
  re-checks the socket's peer. A DNS answer that changes between check and connect (DNS
  rebinding) therefore cannot lead to a private address; TLS still verifies the host NAME;
* connect and read timeouts, plus a whole-fetch deadline of ``3 * timeout``;
* a body size cap, enforced while streaming (and on the inflated size when the server compresses);
* no proxies from the environment (a proxy would bypass the address check).

``requests`` is imported only when a client is created, never when this module is imported.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import zlib
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from core.config import Settings
from core.errors import FetchRefused, InvalidInput
from core.fetching import FetchedDocument
from core.json_input import parse_json
from core.limits import MAX_FETCH_BYTES

if TYPE_CHECKING:
    import requests

#: Redirects followed before giving up.
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_CHUNK = 64 * 1024
#: The whole fetch (all redirects and the body) must finish within this many timeouts.
DEADLINE_FACTOR = 3.0

_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class HttpStatusRefused(FetchRefused):
    """The server answered with a status other than 2xx (or an unfollowable redirect)."""

    def __init__(self, url: str, status_code: int, reason: str = "") -> None:
        shown = f"{status_code} {reason}".strip()
        super().__init__(f"Fetching {url} failed: the server answered HTTP {shown}.")
        self.url = url
        self.status_code = status_code


def address_refusal(address: str | IPAddress) -> str | None:
    """Why ``address`` may not be fetched from by default (``"loopback"``, ``"private"``, …), or
    None when it is a public, globally routable unicast address."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return "unparseable"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = None
        form = ""
        if ip.ipv4_mapped is not None:
            embedded, form = ip.ipv4_mapped, "IPv4-mapped"
        elif ip.sixtofour is not None:
            embedded, form = ip.sixtofour, "6to4"
        elif ip in _NAT64_PREFIX:
            embedded, form = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
        if embedded is not None:
            inner = address_refusal(embedded)
            if inner is not None:
                return f"{form} {inner}"
            if form != "6to4":
                # The packets go to the embedded IPv4 address, which is public.
                return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-global"
    return None


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class _AddressPolicy:
    """Resolves a host, checks its addresses, and opens a socket to a checked address."""

    def __init__(self, allow_private: bool, allowed_hosts: frozenset[str]) -> None:
        self.allow_private = allow_private
        self.allowed_hosts = allowed_hosts

    def exempt(self, host: str) -> bool:
        return self.allow_private or _normalise_host(host) in self.allowed_hosts

    def refuse_if_not_public(self, host: str, address: str) -> None:
        if self.exempt(host):
            return
        reason = address_refusal(address.split("%", 1)[0])
        if reason is not None:
            shown = (
                host if _normalise_host(host) == _normalise_host(address) else f"{host} ({address})"
            )
            raise FetchRefused(
                f"Refused to fetch from {shown}: not a public address ({reason}). Set "
                "BADGEBRIDGE_FETCH_ALLOW_PRIVATE or BADGEBRIDGE_FETCH_ALLOW_HOSTS to allow it."
            )

    def open_socket(
        self,
        host: str,
        port: int,
        timeout: Any,
        socket_options: Any,
        connection: Any,
    ) -> socket.socket:
        """Resolve ``host``, refuse any non-public answer, connect to a checked address."""
        from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

        name = host.strip("[]")
        try:
            answers = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchRefused(f"Cannot resolve the host name {host!r}.") from exc
        if not answers:
            raise FetchRefused(f"The host name {host!r} has no addresses.")
        # Every answer is checked, not just the one used: a mix of public and private answers is
        # a rebinding attempt or a misconfiguration, and is refused either way.
        for *_, sockaddr in answers:
            self.refuse_if_not_public(host, str(sockaddr[0]))
        last_error: OSError | None = None
        for family, socktype, proto, _canonical, sockaddr in answers:
            sock = socket.socket(family, socktype, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                if isinstance(timeout, int | float):
                    sock.settimeout(timeout)
                sock.connect(sockaddr)
                # Belt and braces: the peer we are connected to is the address we checked.
                self.refuse_if_not_public(host, str(sock.getpeername()[0]))
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(
                    connection, f"Connection to {host} timed out (connect timeout={timeout})."
                ) from exc
            except OSError as exc:
                sock.close()
                last_error = exc
            except BaseException:
                sock.close()
                raise
        raise NewConnectionError(connection, f"Failed to establish a new connection: {last_error}")


def _guarded_adapter(policy: _AddressPolicy) -> Any:
    """A ``requests`` transport adapter whose connections go through ``policy``."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return policy.open_socket(self.host, self.port, self.timeout, self.socket_options, self)

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return policy.open_socket(self.host, self.port, self.timeout, self.socket_options, self)

    class GuardedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": GuardedHTTPConnectionPool,
                "https": GuardedHTTPSConnectionPool,
            }

    return GuardedAdapter(max_retries=0)


def _user_agent() -> str:
    try:
        version = metadata.version("badgebridge")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"badgebridge/{version}"


class GuardedHttpClient:
    """Fetches public documents with the guards described in this module's docstring."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        allow_private: bool | None = None,
        allowed_hosts: tuple[str, ...] | list[str] | frozenset[str] = (),
        timeout: float | None = None,
        max_bytes: int | None = None,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        """Settings default to :meth:`Settings.from_env`; keyword arguments override them.
        ``allowed_hosts`` adds to ``settings.allowed_fetch_hosts``."""
        import requests  # noqa: F401  (fail early, here, if the dependency is missing)

        settings = settings if settings is not None else Settings.from_env()
        self.allow_private = (
            settings.allow_private_fetch if allow_private is None else bool(allow_private)
        )
        self.allowed_hosts = frozenset(
            _normalise_host(h) for h in (*settings.allowed_fetch_hosts, *allowed_hosts) if h
        )
        self.timeout = float(settings.fetch_timeout_seconds if timeout is None else timeout)
        if self.timeout <= 0:
            raise InvalidInput("The fetch timeout must be a positive number of seconds.")
        self.max_bytes = MAX_FETCH_BYTES if max_bytes is None else int(max_bytes)
        if self.max_bytes < 1:
            raise InvalidInput("The fetch size limit must be at least one byte.")
        self.max_redirects = max_redirects
        self.user_agent = _user_agent()
        self._policy = _AddressPolicy(self.allow_private, self.allowed_hosts)

    def _session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.trust_env = False  # no proxies or netrc from the environment
        adapter = _guarded_adapter(self._policy)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _check_url(self, url: str) -> None:
        if not isinstance(url, str) or not url:
            raise FetchRefused("No URL to fetch.")
        try:
            parts = urlsplit(url)
            host = parts.hostname
            _ = parts.port  # raises ValueError for a malformed port
        except ValueError as exc:
            raise FetchRefused(f"Refused to fetch {url!r}: the URL is malformed.") from exc
        if parts.scheme.lower() not in ("http", "https"):
            raise FetchRefused(
                f"Refused to fetch {url!r}: only http and https URLs are fetched "
                f"(not {parts.scheme or 'a relative URL'})."
            )
        if parts.username is not None or parts.password is not None:
            raise FetchRefused(f"Refused to fetch {url!r}: URLs with credentials are not fetched.")
        if not host:
            raise FetchRefused(f"Refused to fetch {url!r}: the URL has no host.")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return  # a name: checked when it is resolved, at connection time
        self._policy.refuse_if_not_public(host, host)

    def fetch(
        self, url: str, *, accept: str = "*/*", headers: Mapping[str, str] | None = None
    ) -> FetchedDocument:
        """GET ``url`` (following checked redirects) or raise :class:`FetchRefused`.

        ``headers`` are added to the request (e.g. ``Authorization`` for a platform that wants
        a bearer token); they are sent to redirect targets too, so pass secrets only for URLs
        that answer directly."""
        import requests

        deadline = time.monotonic() + DEADLINE_FACTOR * self.timeout
        headers = {
            **(headers or {}),
            "User-Agent": self.user_agent,
            "Accept": accept,
            "Accept-Encoding": "gzip, deflate",
        }
        current = url
        with self._session() as session:
            for _hop in range(self.max_redirects + 1):
                self._check_url(current)
                try:
                    response = session.get(
                        current,
                        headers=headers,
                        timeout=(self.timeout, self.timeout),
                        allow_redirects=False,
                        stream=True,
                    )
                except requests.exceptions.Timeout as exc:
                    raise FetchRefused(
                        f"Fetching {current} timed out (limit {self.timeout:g} s)."
                    ) from exc
                except requests.exceptions.SSLError as exc:
                    raise FetchRefused(f"Fetching {current} failed: TLS error ({exc}).") from exc
                except requests.exceptions.RequestException as exc:
                    raise FetchRefused(f"Fetching {current} failed: cannot connect.") from exc
                with response:
                    if response.status_code in _REDIRECT_STATUSES:
                        location = response.headers.get("Location")
                        if not location:
                            raise HttpStatusRefused(
                                current, response.status_code, "without Location"
                            )
                        current = urljoin(current, location)
                        continue
                    if not 200 <= response.status_code < 300:
                        raise HttpStatusRefused(
                            current, response.status_code, response.reason or ""
                        )
                    body = self._read_body(response, current, deadline)
                    return FetchedDocument(
                        url=current,
                        content_type=response.headers.get("Content-Type", ""),
                        body=body,
                    )
        raise FetchRefused(f"Fetching {url} failed: more than {self.max_redirects} redirects.")

    def _read_body(self, response: requests.Response, url: str, deadline: float) -> bytes:
        from urllib3.exceptions import HTTPError as Urllib3Error
        from urllib3.exceptions import TimeoutError as Urllib3Timeout

        limit = self.max_bytes
        too_large = f"The response from {url} is larger than the {limit:,}-byte limit; refused."
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise FetchRefused(too_large)
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        inflater: Any
        if encoding in ("", "identity"):
            inflater = None
        elif encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflater = zlib.decompressobj()
        else:
            raise FetchRefused(
                f"The response from {url} uses an unsupported encoding {encoding!r}."
            )
        received = 0
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchRefused(
                        f"Fetching {url} took longer than {DEADLINE_FACTOR * self.timeout:g} s."
                    )
                piece = response.raw.read(_READ_CHUNK, decode_content=False)
                if not piece:
                    break
                received += len(piece)
                if received > limit:
                    raise FetchRefused(too_large)
                if inflater is not None:
                    # Ask for at most one byte beyond the limit: a bomb stops here.
                    piece = inflater.decompress(piece, limit - size + 1)
                size += len(piece)
                if size > limit:
                    raise FetchRefused(too_large)
                parts.append(piece)
            if inflater is not None:
                tail = inflater.flush()
                size += len(tail)
                if size > limit:
                    raise FetchRefused(too_large)
                parts.append(tail)
        except zlib.error as exc:
            raise FetchRefused(f"The compressed response from {url} is corrupt.") from exc
        except (TimeoutError, Urllib3Timeout) as exc:
            raise FetchRefused(
                f"Fetching {url} timed out while reading the body (limit {self.timeout:g} s)."
            ) from exc
        except (Urllib3Error, OSError) as exc:
            raise FetchRefused(f"Fetching {url} failed while reading the body ({exc}).") from exc
        return b"".join(parts)

    def fetch_json(
        self,
        url: str,
        *,
        accept: str = "application/ld+json, application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Fetch and parse JSON (size and depth capped); raises ``FetchRefused`` or
        ``InvalidInput`` naming the URL."""
        document = self.fetch(url, accept=accept, headers=headers)
        try:
            return parse_json(document.body, max_bytes=self.max_bytes)
        except InvalidInput as exc:
            raise InvalidInput(
                f"The document at {document.url} is not usable: {exc.message}"
            ) from exc

    def post_json(
        self, url: str, document: Any, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """POST ``document`` as JSON to ``url`` and parse the JSON answer, with the same guards
        as :meth:`fetch` (redirects are not followed: a POST is not repeated elsewhere).

        A non-2xx answer raises :class:`HttpStatusRefused`; its message quotes the start of the
        server's answer, which usually says what it disliked."""
        import requests

        self._check_url(url)
        deadline = time.monotonic() + DEADLINE_FACTOR * self.timeout
        sent = {
            **(headers or {}),
            "User-Agent": self.user_agent,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "Content-Type": "application/json",
        }
        with self._session() as session:
            try:
                response = session.post(
                    url,
                    data=json.dumps(document).encode("utf-8"),
                    headers=sent,
                    timeout=(self.timeout, self.timeout),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.exceptions.Timeout as exc:
                raise FetchRefused(
                    f"Posting to {url} timed out (limit {self.timeout:g} s)."
                ) from exc
            except requests.exceptions.RequestException as exc:
                raise FetchRefused(f"Posting to {url} failed: cannot connect.") from exc
            with response:
                body = self._read_body(response, url, deadline)
                if not 200 <= response.status_code < 300:
                    said = body[:300].decode("utf-8", errors="replace").strip()
                    refusal = HttpStatusRefused(url, response.status_code, response.reason or "")
                    if said:
                        refusal.message = f"{refusal.message} It said: {said}"
                        refusal.args = (refusal.message,)
                    raise refusal
        try:
            return parse_json(body, max_bytes=self.max_bytes)
        except InvalidInput as exc:
            raise InvalidInput(f"The answer from {url} is not usable: {exc.message}") from exc

    def requests_session(self) -> requests.Session:
        """A ``requests`` session whose connections go through this client's address guard
        (no private addresses, no proxies from the environment), for libraries that make
        their own requests (the LTI services). It does not cap sizes or time: give it
        timeouts."""
        session = self._session()
        session.headers["User-Agent"] = self.user_agent
        return session
