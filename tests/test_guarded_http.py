"""The guarded HTTP client against a real local HTTP server."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.errors import FetchRefused, InvalidInput
from core.fetching import Fetcher
from core.guarded_http import GuardedHttpClient, HttpStatusRefused, address_refusal

REPO = Path(__file__).resolve().parents[1]
BIG = 5 * 1024 * 1024
RELEASE_SLOW = threading.Event()


def _gzip_bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1_000_000)
    return b"".join(packer.compress(zeros) for _ in range(50)) + packer.flush()


GZIP_BOMB = _gzip_bomb()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, sized: bool = True
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if sized:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", {"Location": location})

    def do_GET(self) -> None:
        port = self.server.server_port  # type: ignore[attr-defined]
        routes = {
            "/ok": lambda: self._send(
                200, b'{"hello": "world"}', {"Content-Type": "application/json"}
            ),
            "/echo": lambda: self._send(
                200,
                json.dumps(
                    {"host": self.headers["Host"], "agent": self.headers["User-Agent"]}
                ).encode(),
                {"Content-Type": "application/json"},
            ),
            "/big": lambda: self._send(200, bytes(BIG)),
            # No Content-Length: the body runs until the connection closes (HTTP/1.0).
            "/big-unsized": lambda: self._send(200, bytes(BIG), sized=False),
            "/gzip-ok": lambda: self._send(
                200, gzip.compress(b'{"packed": true}'), {"Content-Encoding": "gzip"}
            ),
            "/gzip-bomb": lambda: self._send(200, GZIP_BOMB, {"Content-Encoding": "gzip"}),
            "/not-json": lambda: self._send(200, b"hello", {"Content-Type": "text/plain"}),
            "/missing": lambda: self._send(404, b"not here"),
            "/redirect-ok": lambda: self._redirect("/ok"),
            "/redirect-metadata": lambda: self._redirect(
                "http://169.254.169.254/latest/meta-data/"
            ),
            "/redirect-localhost": lambda: self._redirect(f"http://localhost:{port}/ok"),
            "/redirect-file": lambda: self._redirect("file:///etc/passwd"),
            "/loop": lambda: self._redirect("/loop"),
        }
        if self.path == "/slow":
            RELEASE_SLOW.wait(10)
            self._send(200, b"{}")
            return
        routes.get(self.path, lambda: self._send(404, b""))()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hanging up early is expected in these tests


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    RELEASE_SLOW.set()
    server.shutdown()
    server.server_close()


def _settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": Path("var"),
        "database_url": "sqlite://",
        "base_url": "http://127.0.0.1:5000",
        "key_encryption_key": None,
        "allow_private_fetch": False,
        "fetch_timeout_seconds": 5.0,
    }
    values.update(changes)
    return Settings(**values)


def _local(**kwargs: Any) -> GuardedHttpClient:
    return GuardedHttpClient(_settings(), allowed_hosts=("127.0.0.1",), **kwargs)


# --- addresses --------------------------------------------------------------------------


def test_loopback_is_refused_by_default(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BADGEBRIDGE_FETCH_ALLOW_PRIVATE", raising=False)
    monkeypatch.delenv("BADGEBRIDGE_FETCH_ALLOW_HOSTS", raising=False)
    with pytest.raises(FetchRefused, match=r"not a public address \(loopback\)"):
        GuardedHttpClient().fetch(f"{base_url}/ok")


def test_allow_private_reaches_the_local_server(base_url: str) -> None:
    client: Fetcher = GuardedHttpClient(_settings(), allow_private=True)
    document = client.fetch(f"{base_url}/ok")

    assert document.body == b'{"hello": "world"}'
    assert document.content_type == "application/json"
    assert document.url == f"{base_url}/ok"
    assert client.fetch_json(f"{base_url}/ok") == {"hello": "world"}


def test_private_fetching_can_be_enabled_from_the_environment(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BADGEBRIDGE_FETCH_ALLOW_PRIVATE", "1")
    assert GuardedHttpClient().fetch_json(f"{base_url}/ok") == {"hello": "world"}


def test_allow_listed_host_is_reached_and_sends_the_user_agent(base_url: str) -> None:
    echoed = _local().fetch_json(f"{base_url}/echo")
    assert echoed["agent"].startswith("badgebridge/")
    assert echoed["host"] == base_url.removeprefix("http://")


def test_explicit_allow_private_false_overrides_settings(base_url: str) -> None:
    client = GuardedHttpClient(_settings(allow_private_fetch=True), allow_private=False)
    with pytest.raises(FetchRefused, match="loopback"):
        client.fetch(f"{base_url}/ok")


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_names_resolving_to_private_addresses_are_refused(
    base_url: str, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    port = base_url.rsplit(":", 1)[1]
    _fake_dns(monkeypatch, {"badge.test": ["127.0.0.1"], "mixed.test": ["8.8.8.8", "10.1.2.3"]})
    client = GuardedHttpClient(_settings())

    with pytest.raises(FetchRefused, match=r"badge\.test \(127\.0\.0\.1\).*loopback"):
        client.fetch(f"{scheme}://badge.test:{port}/ok")
    with pytest.raises(FetchRefused, match=r"10\.1\.2\.3.*private"):
        client.fetch(f"{scheme}://mixed.test:{port}/ok")


def test_connection_goes_to_the_checked_address_with_the_original_host(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = base_url.rsplit(":", 1)[1]
    _fake_dns(monkeypatch, {"badge.test": ["127.0.0.1"]})
    client = GuardedHttpClient(_settings(), allowed_hosts=("badge.test",))

    echoed = client.fetch_json(f"http://badge.test:{port}/echo")
    assert echoed["host"] == f"badge.test:{port}"


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::a00:1",
    ],
)
def test_non_public_addresses_are_classified(address: str) -> None:
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(address) is None


# --- size, time, status -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/big-unsized", "/gzip-bomb"])
def test_body_size_cap_is_enforced(base_url: str, path: str) -> None:
    with pytest.raises(FetchRefused, match="larger than the 2,000,000-byte limit"):
        _local().fetch(f"{base_url}{path}")


def test_custom_size_cap(base_url: str) -> None:
    with pytest.raises(FetchRefused, match="10-byte limit"):
        _local(max_bytes=10).fetch(f"{base_url}/ok")


def test_compressed_responses_are_inflated(base_url: str) -> None:
    assert _local().fetch_json(f"{base_url}/gzip-ok") == {"packed": True}


def test_timeout_is_enforced(base_url: str) -> None:
    with pytest.raises(FetchRefused, match="timed out"):
        _local(timeout=0.5).fetch(f"{base_url}/slow")


def test_not_found_names_the_status(base_url: str) -> None:
    with pytest.raises(HttpStatusRefused, match="HTTP 404") as caught:
        _local().fetch(f"{base_url}/missing")
    assert caught.value.status_code == 404
    assert isinstance(caught.value, FetchRefused)


def test_non_json_body_is_invalid_input_naming_the_url(base_url: str) -> None:
    with pytest.raises(InvalidInput, match="/not-json"):
        _local().fetch_json(f"{base_url}/not-json")


# --- redirects and schemes ----------------------------------------------------------------


def test_relative_redirect_is_followed(base_url: str) -> None:
    document = _local().fetch(f"{base_url}/redirect-ok")
    assert document.url == f"{base_url}/ok"
    assert document.body == b'{"hello": "world"}'


def test_redirect_to_a_link_local_address_is_refused(base_url: str) -> None:
    with pytest.raises(FetchRefused, match=r"169\.254\.169\.254.*link-local"):
        _local().fetch(f"{base_url}/redirect-metadata")


def test_redirect_to_a_private_name_is_refused_even_when_the_first_host_is_allowed(
    base_url: str,
) -> None:
    with pytest.raises(FetchRefused, match=r"localhost.*loopback"):
        _local().fetch(f"{base_url}/redirect-localhost")


def test_redirect_to_a_file_url_is_refused(base_url: str) -> None:
    with pytest.raises(FetchRefused, match="only http and https"):
        _local().fetch(f"{base_url}/redirect-file")


def test_redirect_loops_stop(base_url: str) -> None:
    with pytest.raises(FetchRefused, match="more than 5 redirects"):
        _local().fetch(f"{base_url}/loop")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/badge.json",
        "file:///etc/passwd",
        "gopher://example.org/",
        "javascript:alert(1)",
        "//example.org/no-scheme",
        "",
    ],
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused):
        _local().fetch(url)


def test_urls_with_credentials_are_refused() -> None:
    with pytest.raises(FetchRefused, match="credentials"):
        _local().fetch("https://user:secret@example.org/badge.json")


def test_requests_is_not_imported_with_the_module() -> None:
    code = (
        "import sys, core.guarded_http, core.status_list, core.baking; "
        "sys.exit(1 if 'requests' in sys.modules or 'urllib3' in sys.modules else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False)
    assert result.returncode == 0
