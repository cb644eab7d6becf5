"""A raw-socket scheduler client for conformance tests: it sees every byte."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from ark import protobuf
from ark.sim import AgentShape, ClusterConfig, RecordIODecoder, TaskBehaviour, Timing
from waiting import wait_until

Event = dict[str, Any]

#: Every Mesos interval shrunk so a test takes milliseconds, not minutes.
FAST = Timing(
    heartbeat_interval=0.2,
    allocation_interval=0.05,
    default_refuse_seconds=5.0,
    update_retry_initial=0.2,
    update_retry_max=1.0,
    agent_ping_timeout=0.2,
    agent_reregister_delay=0.02,
    agent_reregister_timeout=5.0,
    master_restart_delay=0.05,
)


def fast_config(**changes: object) -> ClusterConfig:
    """A small, fast, seeded cluster config."""
    base = ClusterConfig(
        agents=(AgentShape(count=2, cpus=2, mem=1024, attributes={"rack": "r1", "ssd": 1}),),
        tasks=TaskBehaviour(staging_seconds=0.01, starting_seconds=0.01, kill_seconds=0.01),
        timing=FAST,
        seed=7,
        max_body_bytes=1024 * 1024,
    )
    return base.replace(**changes)


def split_url(url: str) -> tuple[str, int]:
    """``http://host:port`` -> ``(host, port)``."""
    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    return host, int(port)


# The encoding a Subscriber speaks unless told: tests that run in both set it.
ENCODING = "json"


def encode_call(call: dict[str, Any], encoding: str) -> tuple[bytes, str]:
    """A call in the JSON mapping, as a body in ``encoding``, with its media type."""
    if encoding == "protobuf":
        return protobuf.to_protobuf(call, protobuf.Call), protobuf.CONTENT_TYPE
    return json.dumps(call).encode(), "application/json"


def request(
    url: str,
    method: str,
    path: str,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    *,
    encoding: str = "json",
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request; returns status, headers and body.

    A dict body is a call in the JSON mapping, sent in ``encoding``.
    """
    host, port = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        hdrs = {"Content-Type": "application/json"}
        if isinstance(body, dict):
            data, hdrs["Content-Type"] = encode_call(body, encoding)
        else:
            data = body
        hdrs.update(headers or {})
        conn.request(method, path, data, hdrs)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


class Subscriber:
    """A SUBSCRIBE connection read by a thread; every event and chunk kept."""

    def __init__(
        self,
        url: str,
        framework_info: dict[str, Any] | None = None,
        framework_id: str | None = None,
        *,
        call: dict[str, Any] | None = None,
        headers: dict[str, str | None] | None = None,
        body: bytes | None = None,
        encoding: str | None = None,
    ) -> None:
        self.url = url
        self.encoding = encoding or ENCODING
        media_type = "application/json" if self.encoding == "json" else protobuf.CONTENT_TYPE
        info = dict(framework_info or {"user": "test", "name": "conformance"})
        if call is None:
            call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
            if framework_id is not None:
                call["framework_id"] = {"value": framework_id}
                info["id"] = {"value": framework_id}
        if body is None:
            body, _ = encode_call(call, self.encoding)
        host, port = split_url(url)
        self.sock = socket.create_connection((host, port), timeout=10)
        hdrs: dict[str, str | None] = {
            "Host": f"{host}:{port}",
            "Content-Type": media_type,
            "Accept": media_type,
            "Content-Length": str(len(body)),
        }
        hdrs.update(headers or {})
        head = "POST /api/v1/scheduler HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n"
            for k, v in hdrs.items()
            if v is not None  # None: left out
        )
        self.sock.sendall(head.encode() + b"\r\n" + body)
        self._buf = b""
        status_line, self.headers = self._read_head()
        self.status = int(status_line.split()[1])
        self.stream_id = self.headers.get("mesos-stream-id")
        self.events: list[Event] = []
        self.chunks: list[bytes] = []
        self.closed = False
        self.clean_end = False
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self.body = b""
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.headers.get("transfer-encoding") == "chunked":
            self._thread.start()
        else:
            self.body = self._buf
            self.closed = True

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        return data

    def _read_head(self) -> tuple[str, dict[str, str]]:
        while b"\r\n\r\n" not in self._buf:
            self._buf += self._recv()
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            while len(self._buf) < int(headers["content-length"]):
                self._buf += self._recv()
        return lines[0], headers

    def _read(self) -> None:
        decoder = RecordIODecoder()
        try:
            # Inside the try: close() may have closed the socket already.
            self.sock.settimeout(None)
            while True:
                while b"\r\n" not in self._buf:
                    self._buf += self._recv()
                size_line, self._buf = self._buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self._buf) < size + 2:
                    self._buf += self._recv()
                chunk, trailer = self._buf[:size], self._buf[size : size + 2]
                self._buf = self._buf[size + 2 :]
                assert trailer == b"\r\n", trailer
                if size == 0:
                    self.clean_end = True
                    break
                records = decoder.feed(chunk)
                with self._lock:
                    self.chunks.append(chunk)
                    self.events.extend(self._event(r) for r in records)
        except (ConnectionError, OSError):
            pass
        except BaseException as exc:  # A framing error: the test reads it.
            self.error = exc
        finally:
            self.closed = True

    def _event(self, record: bytes) -> Event:
        if self.encoding == "protobuf":
            return protobuf.to_json(record, protobuf.Event)
        event: Event = json.loads(record)
        return event

    # -- Helpers ------------------------------------------------------------

    @property
    def framework_id(self) -> str:
        """The id from SUBSCRIBED."""
        event = self.wait_event("SUBSCRIBED")
        value: str = event["subscribed"]["framework_id"]["value"]
        return value

    def of_type(self, kind: str) -> list[Event]:
        """Every event of ``kind`` so far."""
        with self._lock:
            return [e for e in self.events if e.get("type") == kind]

    def wait_event(
        self, kind: str, where: Callable[[Event], bool] = lambda e: True, timeout: float = 10.0
    ) -> Event:
        """The first event of ``kind`` matching ``where``, waiting for it."""
        found: list[Event] = []

        def check() -> bool:
            found[:] = [e for e in self.of_type(kind) if where(e)]
            return bool(found)

        wait_until(check, timeout, f"{kind} event")
        return found[0]

    def updates(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """Statuses of every UPDATE so far (of one task if given)."""
        out = [e["update"]["status"] for e in self.of_type("UPDATE")]
        return [s for s in out if task_id is None or s["task_id"]["value"] == task_id]

    def wait_update(
        self, task_id: str, state: str, timeout: float = 10.0, reason: str | None = None
    ) -> dict[str, Any]:
        """The first update of ``task_id`` to ``state`` (with ``reason`` if given)."""
        event = self.wait_event(
            "UPDATE",
            lambda e: (
                e["update"]["status"]["task_id"]["value"] == task_id
                and e["update"]["status"]["state"] == state
                and reason in (None, e["update"]["status"].get("reason"))
            ),
            timeout,
        )
        status: dict[str, Any] = event["update"]["status"]
        return status

    def call(
        self, call: dict[str, Any], stream_id: str | None = "auto", encoding: str | None = None
    ) -> tuple[int, bytes]:
        """POST a call with this stream's id; returns status and body.

        ``encoding`` defaults to the stream's; a call malformed on purpose
        may need JSON, which can say what protobuf cannot.
        """
        headers = {}
        sid = self.stream_id if stream_id == "auto" else stream_id
        if sid is not None:
            headers["Mesos-Stream-Id"] = sid
        call.setdefault("framework_id", {"value": self.framework_id})
        status, _, body = request(
            self.url, "POST", "/api/v1/scheduler", call, headers, encoding=encoding or self.encoding
        )
        return status, body

    def offers(self) -> list[dict[str, Any]]:
        """Every offer received so far, oldest first."""
        return [o for e in self.of_type("OFFERS") for o in e["offers"]["offers"]]

    def wait_offer(
        self, where: Callable[[dict[str, Any]], bool] = lambda o: True
    ) -> dict[str, Any]:
        """The first offer matching ``where``."""
        return wait_until(
            lambda: next((o for o in self.offers() if where(o)), None), what="an offer"
        )

    def launch(
        self, offer: dict[str, Any], task_id: str, cpus: float = 0.1, mem: float = 32, **extra: Any
    ) -> int:
        """ACCEPT ``offer`` with one LAUNCH of ``task_id``; returns the HTTP status."""
        task = {
            "name": task_id,
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
            ],
            # Runs until killed on a real agent too (the simulator ignores commands).
            "command": {"value": "sleep 1000"},
        }
        task.update(extra)
        status, _ = self.call(
            {
                "type": "ACCEPT",
                "accept": {
                    "offer_ids": [offer["id"]],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                    "filters": {"refuse_seconds": 0},
                },
            }
        )
        return status

    def ack(self, status: dict[str, Any]) -> int:
        """ACKNOWLEDGE one status."""
        code, _ = self.call(
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {
                    "agent_id": status["agent_id"],
                    "task_id": status["task_id"],
                    "uuid": status["uuid"],
                },
            }
        )
        return code

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if self._thread.is_alive():
            self._thread.join(5)
