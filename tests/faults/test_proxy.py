"""The fault proxy itself, against an echo server: each fault does what it says."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest
from proxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with FaultProxy(("127.0.0.1", server.server_address[1])) as p:
            yield p
    finally:
        server.shutdown()
        server.server_close()


def connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    sock.settimeout(0.5)
    return sock


def echo(sock: socket.socket, data: bytes = b"ping") -> bytes:
    sock.sendall(data)
    return sock.recv(65536)


def test_pass_silence_and_heal(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        assert echo(sock) == b"ping"
        proxy.silence()
        sock.sendall(b"held")
        with pytest.raises(TimeoutError):
            sock.recv(10)  # nothing, and nothing closed
        proxy.heal()
        sock.settimeout(5)  # what was held comes within the proxy's poll, even under load
        assert sock.recv(10) == b"held"


def test_drop_one_direction(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        proxy.drop("down")
        sock.sendall(b"lost")
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.heal()
        sock.settimeout(5)
        assert echo(sock, b"kept") == b"kept"


def test_delay_and_throttle(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        proxy.delay(0.3)
        start = time.monotonic()
        sock.settimeout(2)
        assert echo(sock) == b"ping"
        assert time.monotonic() - start >= 0.6  # both ways
        proxy.throttle(20_000)
        start = time.monotonic()
        sock.sendall(b"x" * 4000)
        got = b""
        while len(got) < 4000:
            got += sock.recv(65536)
        assert time.monotonic() - start >= 0.2


def test_reset(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        assert echo(sock) == b"ping"
        proxy.reset()
        time.sleep(0.1)
        with pytest.raises(ConnectionResetError):
            echo(sock)
    with connect(proxy) as sock:  # a new connection passes
        assert echo(sock) == b"ping"


def test_answer_and_requests(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        proxy.answer(503)
        # This connection was closed; the next is answered by the proxy.
    with connect(proxy) as sock:
        sock.sendall(b"POST /api/v1/scheduler HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 503")
    assert len(proxy.requests) == 1
