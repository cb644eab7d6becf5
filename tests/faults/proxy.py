"""A fault proxy for tests: a small TCP proxy on loopback that misbehaves on command.

One :class:`FaultProxy` sits between a client (a scheduler process) and one
upstream address (a master, or ZooKeeper). It forwards bytes both ways until
told otherwise; a fault applies to every open connection and every new one
until the next fault or :meth:`FaultProxy.heal`:

- ``delay(s)``: each chunk goes on ``s`` seconds after it arrived, in order
  (``calls_only``: not on event streams, so a master that answers calls late);
- ``throttle(bytes_per_second)``: a slow link;
- ``silence()``: nothing is forwarded and nothing closed, both ways (a
  silent partition: what a dead switch or a paused VM looks like);
- ``drop(direction)``: bytes one way are read and thrown away (``"up"``:
  client to upstream; ``"down"``: upstream to client);
- ``reset()``: every open connection is reset (RST), once;
- ``answer(status)``: HTTP calls are answered by the proxy with ``status``
  and never reach the master (a sick master); event streams stay up;
- ``cut()``: each event stream is closed after half of its next chunk (a
  master that dies mid-record).

It also records the time every HTTP request left its client
(:attr:`FaultProxy.requests`, whatever the fault did with it), so a test
can check at the master's door what a deposed leader sent after its fence.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

__all__ = ["Fault", "FaultProxy"]

_CHUNK = 65536
_POLL = 0.02
_REQUEST = b"POST /api/v1/scheduler "


@dataclass(frozen=True)
class Fault:
    """What the proxy does now; ``kind`` is one of the modes the module lists."""

    kind: str = "pass"
    seconds: float = 0.0
    rate: float = 0.0
    direction: str = ""
    status: int = 0
    calls_only: bool = False


class _Connection:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = False
        #: Whether the upstream answered with an event stream (a ``Mesos-Stream-Id``).
        self.stream = False
        #: Whether the proxy answers this connection's requests itself.
        self.answered = False
        self.reset_seen = 0
        self.cut_seen = 0

    def close(self, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` and injects :class:`Fault`s."""

    def __init__(self, upstream: tuple[str, int] | str, name: str = "") -> None:
        if isinstance(upstream, str):
            host, port = upstream.removeprefix("http://").rstrip("/").rsplit(":", 1)
            upstream = (host, int(port))
        self.upstream = upstream
        self.name = name or f"proxy->{upstream[1]}"
        self._fault = Fault()
        self._changed = threading.Condition()
        self._resets = 0
        self._cuts = 0
        self._connections: list[_Connection] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL * 5)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = False
        self._threads: list[threading.Thread] = []
        #: ``(time.time(), "POST")`` for each HTTP request its client sent.
        self.requests: list[tuple[float, str]] = []
        #: Every fault set, with the time it was set: what a chaos run did.
        self.history: list[tuple[float, Fault]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def fault(self) -> Fault:
        return self._fault

    # --- commands -------------------------------------------------------------------

    def set(self, fault: Fault) -> FaultProxy:
        with self._changed:
            self._fault = fault
            self.history.append((time.time(), fault))
            if fault.kind == "reset":
                self._resets += 1
            if fault.kind == "cut":
                self._cuts += 1
            for conn in self._connections:
                # Entering ``answer``: calls already forwarded on a kept-alive
                # connection would be answered out of order, so it is closed
                # (new ones are answered here); leaving it: the connections
                # answered here are closed, the next go to the master.
                if (fault.kind == "answer" and not conn.stream) or conn.answered:
                    conn.close(reset=True)
            self._changed.notify_all()
        return self

    def heal(self) -> FaultProxy:
        return self.set(Fault())

    def delay(self, seconds: float, *, calls_only: bool = False) -> FaultProxy:
        return self.set(Fault("delay", seconds=seconds, calls_only=calls_only))

    def throttle(self, bytes_per_second: float) -> FaultProxy:
        return self.set(Fault("throttle", rate=bytes_per_second))

    def silence(self) -> FaultProxy:
        return self.set(Fault("silence"))

    def drop(self, direction: str) -> FaultProxy:
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
        return self.set(Fault("drop", direction=direction))

    def reset(self) -> FaultProxy:
        return self.set(Fault("reset"))

    def answer(self, status: int) -> FaultProxy:
        return self.set(Fault("answer", status=status))

    def cut(self) -> FaultProxy:
        return self.set(Fault("cut"))

    def requests_after(self, moment: float) -> list[tuple[float, str]]:
        """The requests sent after ``moment`` (``time.time()``)."""
        return [r for r in list(self.requests) if r[0] > moment]

    # --- life -----------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._spawn(self._accept, "accept")
        return self

    def close(self) -> None:
        self._stopping = True
        with self._changed:
            self._changed.notify_all()
            for conn in self._connections:
                conn.close()
        self._listener.close()
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, target: object, what: str, *args: object) -> None:
        thread = threading.Thread(
            target=target,  # type: ignore[arg-type]
            args=args,
            name=f"{self.name}-{what}",
            daemon=True,
        )
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            conn = _Connection(client, upstream)
            with self._changed:
                conn.reset_seen, conn.cut_seen = self._resets, self._cuts
                conn.answered = self._fault.kind == "answer"
                self._connections = [c for c in self._connections if not c.closed]
                self._connections.append(conn)
            self._spawn(self._pump, "up", conn, True)
            self._spawn(self._pump, "down", conn, False)

    # --- forwarding -----------------------------------------------------------------

    def _pump(self, conn: _Connection, up: bool) -> None:
        source, sink = (conn.client, conn.upstream) if up else (conn.upstream, conn.client)
        direction = "up" if up else "down"
        tail = b""
        # Read while silent too, and hold: a request is recorded when it was
        # sent, not when a partition let it through.
        held: list[bytes] = []
        try:
            while not (self._stopping or conn.closed):
                fault = self._fault
                if fault.kind == "reset" and conn.reset_seen < self._resets:
                    conn.close(reset=True)
                    return
                if held and fault.kind != "silence":
                    sink.sendall(b"".join(held))
                    held.clear()
                readable, _, _ = select.select([source], [], [], _POLL)
                if not readable:
                    continue
                data = source.recv(_CHUNK)
                arrived = time.monotonic()
                if not data:
                    if self._wait_unsilenced(conn) is not None and held:
                        sink.sendall(b"".join(held))
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                if up:
                    now = time.time()
                    scan = tail + data
                    self.requests.extend((now, "POST") for _ in range(scan.count(_REQUEST)))
                    tail = scan[-(len(_REQUEST) - 1) :]
                fault = self._fault
                if not up and not conn.stream and data.startswith(b"HTTP/1.1 200"):
                    conn.stream = b"mesos-stream-id" in data.split(b"\r\n\r\n", 1)[0].lower()
                if fault.kind == "silence":
                    held.append(data)
                    continue
                if up and conn.answered:
                    self._answer(conn, data)
                    continue
                if fault.kind == "drop" and fault.direction == direction:
                    continue
                cut = fault.kind == "cut" and conn.cut_seen < self._cuts
                if cut and not up and conn.stream:
                    sink.sendall(data[: max(1, len(data) // 2)])
                    conn.close()
                    return
                if fault.kind == "delay" and not (fault.calls_only and conn.stream):
                    time.sleep(max(0.0, arrived + fault.seconds - time.monotonic()))
                elif fault.kind == "throttle" and fault.rate > 0:
                    time.sleep(len(data) / fault.rate)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            if not up:
                conn.close()

    def _wait_unsilenced(self, conn: _Connection) -> Fault | None:
        with self._changed:
            while self._fault.kind == "silence" and not (self._stopping or conn.closed):
                self._changed.wait(_POLL * 5)
            return None if self._stopping or conn.closed else self._fault

    def _answer(self, conn: _Connection, data: bytes) -> None:
        """Answer each whole request in ``data`` with the fault's status (calls
        are small and written whole; a request split across reads is answered
        once, for its first part)."""
        status = self._fault.status or 503
        for _ in range(max(1, data.count(b"POST "))):
            body = f"fault proxy: {status}".encode()
            head = f"HTTP/1.1 {status} Fault\r\nContent-Length: {len(body)}\r\n\r\n"
            conn.client.sendall(head.encode() + body)
