"""The egress policy: a deny corpus that never connects, pinning, no redirects, caps, timeouts."""

from __future__ import annotations

import contextlib
import http.server
import json
import pickle
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runbook.egress import EgressPolicy, config_root, policy_from_config, refusal_reason
from runbook.errors import EgressError, FailureError

LOOPBACK = EgressPolicy(allow_private=("127.0.0.1",))


@dataclass
class Seen:
    """One request the fake server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeServer:
    """A local HTTP server speaking just enough Slack webhook, JSON webhook and Grafana."""

    port: int
    seen: list[Seen] = field(default_factory=list)
    token: str = "grafana-test-token-0123456789"
    #: ``/slow`` answers only once this is set (at teardown): slower than any timeout.
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [s.path for s in self.seen]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._record()
        if self.path == "/redirect":
            self._send(302, b"", location="http://169.254.169.254/latest/meta-data/")
        elif self.path == "/redirect-local":
            self._send(302, b"", location=f"{self.fake.base}/sink")
        elif self.path == "/big":
            self._send(200, b"x" * 2_000_000)
        elif self.path == "/big-chunked":
            self._chunked([b"y" * 65_536] * 40)
        elif self.path == "/slow":
            self.fake.release.wait(120)
            self._send(200, b"late")
        else:
            body = {"ok": True, "host": self.headers.get("Host")}
            self._send(200, json.dumps(body).encode())

    def do_POST(self) -> None:
        seen = self._record()
        if seen.path.endswith("/api/annotations"):
            if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
                echo = f"invalid API key: {self.headers.get('Authorization')}"
                self._send(401, json.dumps({"message": echo}).encode())
            else:
                self._send(200, json.dumps({"id": 42, "message": "Annotation added"}).encode())
        elif seen.path.startswith("/services/"):
            self._send(200, b"ok")  # what a Slack incoming webhook answers
        elif seen.path == "/fail":
            self._send(500, b"broken")
        elif seen.path == "/redirect-local":
            self._send(302, b"", location=f"{self.fake.base}/sink")
        else:
            self._send(200, b"{}")

    def _record(self) -> Seen:
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
        self.fake.seen.append(seen)
        return seen

    def _send(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunked(self, chunks: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up on purpose (timeouts, caps) is not worth a traceback."""


def serve() -> tuple[FakeServer, http.server.ThreadingHTTPServer]:
    """Start a FakeServer on 127.0.0.1 in a thread; the caller shuts it down."""
    server = _Server(("127.0.0.1", 0), _Handler)
    fake = FakeServer(port=server.server_address[1])
    server.RequestHandlerClass = type("Handler", (_Handler,), {"fake": fake})
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return fake, server


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """A fake webhook / Grafana server on loopback."""
    fake, server = serve()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()


@dataclass
class Listener:
    """A loopback TCP listener that records the client port of each connection it accepts."""

    port: int
    peers: list[int] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def settled(self) -> int:
        """How many connections were made before now, every one of them counted.

        A probe connection of our own goes in last: connections are accepted in the order
        they were made, so once the probe is counted every earlier one is too (no sleep,
        however slow the accepting thread is).
        """
        with socket.create_connection(("127.0.0.1", self.port)) as probe:
            mine = probe.getsockname()[1]
            with self.arrived:
                assert self.arrived.wait_for(lambda: mine in self.peers, timeout=120)
                return self.peers.index(mine)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A listener on 127.0.0.1 owned by the test: any connection to it is counted."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    counter = Listener(port=sock.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                connection, peer = sock.accept()
            except OSError:
                return  # closed at teardown
            with counter.arrived:
                counter.peers.append(peer[1])
                counter.arrived.notify_all()
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield counter
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
    sock.close()
    thread.join(10)


def deny_corpus(port: int) -> list[str]:
    """URLs that must be refused: every spelling of loopback, metadata and private ranges."""
    p = port
    return [
        f"http://127.0.0.1:{p}/",
        f"http://127.0.0.2:{p}/",
        f"http://127.1:{p}/",
        f"http://[::1]:{p}/",
        f"http://0x7f000001:{p}/",
        f"http://2130706433:{p}/",
        f"http://017700000001:{p}/",
        f"http://0x7f.0.0.1:{p}/",
        f"http://localhost:{p}/",
        f"http://LOCALHOST:{p}/",
        f"http://localhost.:{p}/",
        f"http://[::ffff:127.0.0.1]:{p}/",
        f"http://[::ffff:7f00:1]:{p}/",
        f"http://[::127.0.0.1]:{p}/",
        f"http://[64:ff9b::7f00:1]:{p}/",
        f"http://[2002:7f00:1::1]:{p}/",
        f"https://127.0.0.1:{p}/",
        f"http://user:secret@127.0.0.1:{p}/?token=abc",
        f"http://evil.example\\@127.0.0.1:{p}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://2852039166/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://10.0.0.1/",
        "http://10.255.255.254:8080/",
        "http://172.16.0.1/",
        "http://172.31.255.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://100.127.255.254/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://255.255.255.255/",
        "http://198.18.0.1/",
        f"ftp://127.0.0.1:{p}/",
        "ftp://example.com/file",
        "file:///etc/passwd",
        f"gopher://127.0.0.1:{p}/_GET",
        "javascript:alert(1)",
        "data:text/plain,hello",
        f"dict://127.0.0.1:{p}/",
        "http:///no-host",
        "http://127.0.0.1:99999/",
        "http://exa mple.com/",
        "http://example.com\r\nX-Injected: 1/",
    ]


def test_the_deny_corpus_is_refused_without_a_single_connection(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[Any] = []
    real = socket.create_connection

    def counting(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    corpus = deny_corpus(listener.port)
    assert len(corpus) >= 50
    policy = EgressPolicy(timeout=2)
    for url in corpus:
        with pytest.raises(EgressError) as caught:
            policy.request("GET", url)
        assert caught.value.refused, url
        assert "refused by the egress policy" in str(caught.value)
    assert attempts == []
    assert listener.settled() == 0
    # The control: the same listener, once allowed, does see the connection (then the probe).
    with pytest.raises(EgressError, match=r"malformed HTTP response|connection failed"):
        LOOPBACK.request("GET", f"http://127.0.0.1:{listener.port}/")
    assert listener.settled() == 2


def test_messages_name_the_url_and_the_reason_but_no_credentials() -> None:
    with pytest.raises(EgressError) as caught:
        EgressPolicy().check_url("http://admin:hunter2@169.254.169.254/latest?token=abc#frag")
    message = str(caught.value)
    assert message == (
        "http://169.254.169.254/latest: refused by the egress policy: "
        "link-local address 169.254.169.254"
    )
    assert isinstance(caught.value, FailureError)
    again = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
    assert str(again) == message
    assert again.refused


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("fc00::1", "unique-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
        ("239.1.1.1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("192.0.2.1", "non-public"),
    ],
)
def test_refusal_reasons_name_the_kind_of_address(address: str, kind: str) -> None:
    import ipaddress

    reason = refusal_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert reason.startswith(kind)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    import ipaddress

    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.0/8", "localhost"])
def test_an_allowlisted_loopback_target_works(fake: FakeServer, entry: str) -> None:
    policy = EgressPolicy(allow_private=(entry,))
    host = "localhost" if entry == "localhost" else "127.0.0.1"
    status, body = policy.request("GET", f"http://{host}:{fake.port}/hello?x=1")
    assert status == 200
    assert json.loads(body) == {"ok": True, "host": f"{host}:{fake.port}"}
    assert fake.paths() == ["/hello?x=1"]


def test_allowing_one_address_does_not_allow_its_neighbours(listener: Listener) -> None:
    policy = EgressPolicy(allow_private=("127.0.0.2", "10.0.0.0/8", "intranet.example"))
    with pytest.raises(EgressError, match=r"loopback address 127\.0\.0\.1"):
        policy.request("GET", f"http://127.0.0.1:{listener.port}/")
    with pytest.raises(EgressError, match="link-local"):
        policy.check_url("http://169.254.169.254/")
    assert listener.settled() == 0


def test_json_body_and_headers_are_sent(fake: FakeServer) -> None:
    status, body = LOOPBACK.request(
        "POST",
        f"{fake.base}/services/T000/B000/XXXX",
        json_body={"text": "disk full on db1"},
        headers={"X-Trace": "abc"},
    )
    assert (status, body) == (200, b"ok")
    seen = fake.seen[0]
    assert json.loads(seen.body) == {"text": "disk full on db1"}
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Trace"] == "abc"


def test_redirects_are_returned_not_followed(fake: FakeServer) -> None:
    status, _ = LOOPBACK.request("GET", f"{fake.base}/redirect")
    assert status == 302
    status, _ = LOOPBACK.request("GET", f"{fake.base}/redirect-local")
    assert status == 302
    assert fake.paths() == ["/redirect", "/redirect-local"]  # never /sink


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_the_response_body_is_capped(fake: FakeServer, path: str) -> None:
    policy = EgressPolicy(allow_private=("127.0.0.1",), max_body=1_000_000)
    with pytest.raises(EgressError, match="larger than the cap of 1000000 bytes") as caught:
        policy.request("GET", f"{fake.base}{path}")
    assert not caught.value.refused
    small = EgressPolicy(allow_private=("127.0.0.1",), max_body=3_000_000)
    status, body = small.request("GET", f"{fake.base}{path}")
    assert status == 200
    assert len(body) in (2_000_000, 40 * 65_536)


def test_a_slow_server_times_out(fake: FakeServer) -> None:
    policy = EgressPolicy(allow_private=("127.0.0.1",), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(EgressError, match=r"timed out after 0\.5 s"):
        policy.request("GET", f"{fake.base}/slow")  # it never answers while the test runs
    assert time.monotonic() - started < 60  # not the server's 120 s: the timeout ended it


def test_a_closed_port_is_a_failure_not_a_refusal() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EgressError, match="connection failed") as caught:
        LOOPBACK.request("GET", f"http://127.0.0.1:{port}/")
    assert not caught.value.refused


def test_the_address_is_resolved_once_and_pinned(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebinding resolver answers loopback first, then the metadata address: never used."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, fake.port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    policy = EgressPolicy(allow_private=("127.0.0.0/8",))
    status, body = policy.request("GET", f"http://rebind.example:{fake.port}/pinned")
    assert status == 200
    assert lookups == ["rebind.example"]
    assert fake.seen[0].headers["Host"] == f"rebind.example:{fake.port}"
    assert json.loads(body)["host"] == f"rebind.example:{fake.port}"


def test_a_name_with_any_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def mixed(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(EgressError, match=r"private address 10\.0\.0\.7"):
        EgressPolicy().check_url("https://mixed.example/")


def test_a_name_that_does_not_resolve_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(EgressError, match=r"cannot resolve host 'nowhere\.example'") as caught:
        EgressPolicy().request("GET", "https://nowhere.example/x?key=k")
    assert not caught.value.refused
    assert "key=k" not in str(caught.value)


def test_headers_with_line_breaks_are_refused_without_echoing_them(fake: FakeServer) -> None:
    with pytest.raises(EgressError) as caught:
        LOOPBACK.request(
            "GET", f"{fake.base}/", headers={"Authorization": "Bearer s3cr3t\r\nX-Evil: 1"}
        )
    assert "s3cr3t" not in str(caught.value)
    assert "Authorization" in str(caught.value)
    with pytest.raises(EgressError, match="credentials in the URL"):
        LOOPBACK.request("GET", f"http://user:pw@127.0.0.1:{fake.port}/")
    with pytest.raises(ValueError, match="invalid HTTP method"):
        LOOPBACK.request("GET /x HTTP/1.1\r\n", f"{fake.base}/")
    assert fake.seen == []


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """A TLS server with a self-signed certificate; records the SNI names it is offered."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(5)

    def handshake() -> None:
        try:
            connection, _ = sock.accept()
            with context.wrap_socket(connection, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            return  # the client rejects our certificate, as it must

    thread = threading.Thread(target=handshake, daemon=True)
    thread.start()
    yield sock.getsockname()[1], names
    thread.join(5)
    sock.close()


def test_tls_is_verified_against_the_host_name(tls_server: tuple[int, list[str]]) -> None:
    port, names = tls_server
    policy = EgressPolicy(allow_private=("localhost",), timeout=5)
    with pytest.raises(EgressError, match="TLS failure") as caught:
        policy.request("GET", f"https://localhost:{port}/")
    assert not caught.value.refused
    assert names == ["localhost"]  # SNI carries the name, though we dialled the pinned IP


def test_policy_from_config_reads_runbook_toml_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "runbook.toml").write_text(
        '[egress]\nallow_private = ["grafana.internal", "10.20.0.0/16"]\n', encoding="utf-8"
    )
    env = {"RUNBOOK_EGRESS_ALLOW": " 127.0.0.1 , ,hooks.lan"}
    policy = policy_from_config(env, tmp_path)
    assert policy.allow_private == ("grafana.internal", "10.20.0.0/16", "127.0.0.1", "hooks.lan")
    assert policy_from_config({}, None) == EgressPolicy()


@pytest.mark.parametrize(
    "content",
    [
        "not = [valid",
        "egress = 3\n",
        "[egress]\nallow_private = 7\n",
        "[egress]\nallow_private = [1, 2]\n",
    ],
)
def test_policy_from_config_is_tolerant(tmp_path: Path, content: str) -> None:
    (tmp_path / "runbook.toml").write_text(content, encoding="utf-8")
    assert policy_from_config({}, tmp_path) == EgressPolicy()
    assert policy_from_config({}, tmp_path / "missing") == EgressPolicy()


def test_config_root_prefers_runbook_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runbook.toml").write_text("", encoding="utf-8")
    (tmp_path / "runbooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "runbooks" / "deep")
    assert config_root({}) == tmp_path.resolve()
    assert config_root({"RUNBOOK_REPO": "/elsewhere"}) == Path("/elsewhere")
