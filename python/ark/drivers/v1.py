"""The native driver: Mesos's v1 scheduler HTTP API, with no pymesos.

One thread holds the SUBSCRIBE stream: it finds the leading master (a fixed
address or ``zk://``), follows 307 redirects, reads RecordIO records, turns
each event into an Ark message and pushes it. Calls go out on a second
connection from a sender thread, so the scheduler loop never waits on the
network. When the stream ends, or stays silent for ``heartbeat_misses``
heartbeat intervals, the driver pushes ``Disconnected`` and subscribes again
with its framework id and ``failover_timeout`` (which a new master does not
remember), after a truncated exponential backoff.

Calls made while no stream is up are dropped, as Mesos drops them: the
reconciliation that follows every subscription repairs what they would have
done.

Both encodings of the API are spoken, protobuf by default when the master
takes it. Either way each event goes from the wire to the inbox through
Rust (``ark._core.decode_event``) without a Python object being made; a call
whose launch payload has a field outside Ark's ``.proto`` subset goes as
JSON, which Mesos accepts call by call.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import queue
import random
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from ark import _core, protobuf, wire
from ark import effects as fx
from ark import messages as m
from ark.drivers.detector import MasterDetector, parse_address
from ark.drivers.framework_info import framework_info
from ark.errors import ArkError
from ark.recordio import RecordIOError

__all__ = ["V1Driver"]

log = logging.getLogger(__name__)

API = "/api/v1/scheduler"
_MAX_REDIRECTS = 5
_MAX_RECORD = 256 * 1024 * 1024
JSON = "application/json"
PROTOBUF = protobuf.CONTENT_TYPE

Encoding = Literal["auto", "protobuf", "json"]
# A queued call: its type (for the logs), its body, and the body's media type.
_Call = tuple[str, bytes, str]


class V1Driver:
    """Connects a :class:`~ark.Scheduler` to Mesos over the v1 HTTP API.

    Parameters
    ----------
    master
        ``host:port``, ``http://host:port`` or ``zk://host:port,.../path``.
    framework
        ``FrameworkInfo`` fields (``name``, ``user``, ``roles``,
        ``capabilities`` ...). ``failover_timeout`` defaults to a week.
    framework_id
        Subscribe as this framework (after a restart of the scheduler).
    principal, secret
        HTTP basic authentication, when the master requires it.
    backoff_seconds, backoff_cap_seconds
        Wait ``min(cap, base * 2**n)`` (with jitter) before the n-th retry.
    heartbeat_misses
        Reconnect after this many heartbeat intervals without an event.
    encoding
        ``"protobuf"``, ``"json"``, or ``"auto"``: protobuf, and JSON from
        the first master that refuses it (415 or 406).
    """

    def __init__(
        self,
        master: str,
        framework: Mapping[str, Any],
        *,
        framework_id: str | None = None,
        principal: str | None = None,
        secret: str | None = None,
        backoff_seconds: float = 0.1,
        backoff_cap_seconds: float = 10.0,
        heartbeat_misses: float = 3.0,
        connect_timeout: float = 10.0,
        encoding: Encoding = "auto",
    ) -> None:
        if encoding not in ("auto", "protobuf", "json"):
            raise ValueError(f"encoding must be 'auto', 'protobuf' or 'json', not {encoding!r}")
        self._detector = MasterDetector(master)
        info = framework_info(framework)
        if principal is not None:
            info["principal"] = principal
        self._info = info
        self._framework_id = framework_id
        #: The encoding spoken now: ``"protobuf"`` or ``"json"``.
        self.encoding: Literal["protobuf", "json"] = "json" if encoding == "json" else "protobuf"
        self._may_fall_back = encoding == "auto"
        self._headers: dict[str, str] = {}
        if principal is not None:
            token = base64.b64encode(f"{principal}:{secret or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._backoff = (backoff_seconds, backoff_cap_seconds)
        self._heartbeat_misses = heartbeat_misses
        self._connect_timeout = connect_timeout
        self._push: Callable[[bytes], None] | None = None
        self._stopping = threading.Event()
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        # Set while a stream is up: the master that serves it and its stream id.
        self._lock = threading.Lock()
        self._master: tuple[str, int] | None = None
        self._stream_id: str | None = None
        self._stream_conn: http.client.HTTPConnection | None = None
        self._threads: list[threading.Thread] = []
        #: The last ERROR event's message: the master removed or refused the framework.
        self.error: str | None = None
        self.subscriptions = 0

    @property
    def framework_id(self) -> str | None:
        """The framework id, once a master has assigned it."""
        return self._framework_id

    # --- the Driver protocol ------------------------------------------------------

    def start(self, push: Callable[[bytes], None], framework_id: str | None = None) -> None:
        """Subscribe in the background (as ``framework_id`` if given); events go to ``push``."""
        self._push = push
        if framework_id is not None:
            self._framework_id = framework_id
        for target, name in ((self._subscribe_loop, "stream"), (self._send_loop, "calls")):
            thread = threading.Thread(target=target, name=f"ark-v1-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def run(self, effects: Sequence[fx.Effect]) -> None:
        """Queue the calls for ``effects``; never blocks."""
        framework_id = self._framework_id
        if framework_id is None:
            log.warning("ark: %d calls dropped: not subscribed yet", len(effects))
            return
        for effect in effects:
            try:
                self._calls.put(self._encode(wire.call(effect, framework_id)))
            except (ArkError, ValueError) as exc:
                log.error("ark: %s not sent: %s", type(effect).__name__, exc)

    def stop(self, failover: bool) -> None:
        """Close the stream; without ``failover``, TEARDOWN first (Mesos kills every task)."""
        if not failover and self._framework_id is not None:
            self._post(
                self._encode({"framework_id": {"value": self._framework_id}, "type": "TEARDOWN"})
            )
        self._stopping.set()
        self._calls.put(None)
        self._close_stream()
        for thread in self._threads:
            thread.join(self._connect_timeout)
        self._detector.close()

    # --- the stream -----------------------------------------------------------------

    def _subscribe_loop(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            subscribed = False
            try:
                subscribed = self._subscribe_once()
            except Exception:
                log.exception("ark: subscription failed")
            if self._stopping.is_set() or self.error is not None:
                return
            if subscribed:
                attempt = 0
                self._emit(m.encode(m.Disconnected()))
            attempt += 1
            base, cap = self._backoff
            delay = min(cap, base * 2 ** min(attempt - 1, 30))
            self._stopping.wait(delay * random.uniform(0.5, 1.0))

    def _subscribe_once(self) -> bool:
        """One SUBSCRIBE, read to its end; True if it got as far as SUBSCRIBED."""
        address = self._detector.leader()
        for _ in range(_MAX_REDIRECTS + 1):  # one more for a fall back to JSON
            if address is None:
                log.info("ark: no leading master yet")
                return False
            conn = http.client.HTTPConnection(*address, timeout=self._connect_timeout)
            call: dict[str, Any] = {
                "type": "SUBSCRIBE",
                "subscribe": {"framework_info": self._framework_info()},
            }
            if self._framework_id is not None:
                call["framework_id"] = {"value": self._framework_id}
            _, body, media_type = self._encode(call)
            headers = {**self._headers, "Content-Type": media_type, "Accept": self._accept()}
            try:
                conn.request("POST", API, body, headers)
                response = conn.getresponse()
            except OSError as exc:
                log.warning("ark: master %s:%d unreachable: %r", *address, exc)
                conn.close()
                return False
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location") or ""
                conn.close()
                try:
                    address = parse_address(location)
                except ArkError:
                    log.error("ark: redirect to %r is not a master address", location)
                    return False
                log.info("ark: redirected to the leading master %s:%d", *address)
                continue
            if response.status in (406, 415) and self._fall_back_to_json():
                response.read()
                conn.close()
                continue
            if response.status != 200:
                text = response.read(4096).decode(errors="replace")
                conn.close()
                log.warning("ark: SUBSCRIBE answered %d: %s", response.status, text)
                return False
            return self._read_stream(conn, response, address)
        log.error("ark: more than %d redirects", _MAX_REDIRECTS)
        return False

    def _accept(self) -> str:
        return PROTOBUF if self.encoding == "protobuf" else JSON

    def _fall_back_to_json(self) -> bool:
        if not self._may_fall_back or self.encoding == "json":
            return False
        log.info("ark: the master refuses protobuf; speaking JSON from now on")
        self.encoding = "json"
        return True

    def _encode(self, call: dict[str, Any]) -> _Call:
        """A call's body in the current encoding (JSON if protobuf cannot hold it)."""
        kind = str(call.get("type"))
        if self.encoding == "protobuf":
            try:
                return kind, protobuf.to_protobuf(call, protobuf.Call), PROTOBUF
            except ArkError as exc:
                log.info("ark: %s sent as JSON: %s", kind, exc)
        return kind, json.dumps(call).encode(), JSON

    def _framework_info(self) -> dict[str, Any]:
        info = dict(self._info)
        if self._framework_id is not None:
            info["id"] = {"value": self._framework_id}
        return info

    def _read_stream(
        self,
        conn: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        address: tuple[str, int],
    ) -> bool:
        with self._lock:
            self._stream_conn = conn
        subscribed = False
        media_type = (response.getheader("Content-Type") or JSON).split(";")[0].strip()
        lift = _lift_protobuf if media_type == PROTOBUF else _lift_json
        try:
            while not self._stopping.is_set():
                record = _read_record(response)
                if record is None:
                    log.warning("ark: the master closed the event stream")
                    break
                try:
                    lifted = lift(record)
                except (ValueError, ArkError) as exc:
                    log.error("ark: malformed event skipped (%s): %.200r", exc, record)
                    continue
                if lifted is None:
                    continue
                kind, data = lifted
                if kind == "Subscribed":
                    subscribed = True
                    message = m.decode(data)
                    assert isinstance(message, m.Subscribed)
                    self._on_subscribed(message, response, conn, address)
                elif kind == "Error":
                    message = m.decode(data)
                    assert isinstance(message, m.Error)
                    log.error("ark: the master sent ERROR: %s", message.message)
                    self.error = message.message
                self._emit(data)
                if self.error is not None:
                    break
        except (OSError, http.client.HTTPException, RecordIOError) as exc:
            if not self._stopping.is_set():
                log.warning("ark: event stream lost: %r", exc)
        finally:
            with self._lock:
                self._stream_conn = None
                self._stream_id = None
            conn.close()
        return subscribed

    def _on_subscribed(
        self,
        message: m.Subscribed,
        response: http.client.HTTPResponse,
        conn: http.client.HTTPConnection,
        address: tuple[str, int],
    ) -> None:
        with self._lock:
            self._framework_id = message.framework_id
            self._stream_id = response.getheader("Mesos-Stream-Id")
            self._master = address
        self.subscriptions += 1
        interval = message.heartbeat_interval_seconds or 15.0
        # The watchdog: a read that waits longer than this many heartbeats fails.
        if conn.sock is not None:
            conn.sock.settimeout(interval * self._heartbeat_misses)
        log.info("ark: subscribed as %s to %s:%d", message.framework_id, *address)

    def _close_stream(self) -> None:
        with self._lock:
            conn = self._stream_conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def _emit(self, data: bytes) -> None:
        assert self._push is not None
        try:
            self._push(data)
        except ArkError:
            # The inbox is closed: the scheduler is shutting down.
            self._stopping.set()

    # --- calls ----------------------------------------------------------------------

    def _send_loop(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            call = self._calls.get()
            if call is None:
                break
            conn = self._send(conn, call)
        if conn is not None:
            conn.close()

    def _send(
        self, conn: http.client.HTTPConnection | None, call: _Call
    ) -> http.client.HTTPConnection | None:
        kind, body, media_type = call
        with self._lock:
            master, stream_id = self._master, self._stream_id
        if master is None or stream_id is None:
            log.warning("ark: %s dropped: no subscription", kind)
            return conn
        if conn is None or (conn.host, conn.port) != master:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(*master, timeout=self._connect_timeout)
        headers = {**self._headers, "Content-Type": media_type, "Mesos-Stream-Id": stream_id}
        for retry in (True, False):
            try:
                conn.request("POST", API, body, headers)
                response = conn.getresponse()
                text = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if retry:
                    continue  # a kept-alive connection the master closed: once more
                log.warning("ark: %s not sent: %r", kind, exc)
                return None
            if response.status != 202:
                log.warning(
                    "ark: %s answered %d: %s",
                    kind,
                    response.status,
                    text[:300].decode(errors="replace"),
                )
            return conn
        return conn

    def _post(self, call: _Call) -> None:
        """Send one call now, on the caller's thread (TEARDOWN at stop)."""
        kind, body, media_type = call
        with self._lock:
            master, stream_id = self._master, self._stream_id
        if master is None or stream_id is None:
            log.warning("ark: %s not sent: no subscription", kind)
            return
        conn = http.client.HTTPConnection(*master, timeout=self._connect_timeout)
        try:
            headers = {**self._headers, "Content-Type": media_type, "Mesos-Stream-Id": stream_id}
            conn.request("POST", API, body, headers)
            response = conn.getresponse()
            response.read()
            if response.status != 202:
                log.warning("ark: %s answered %d", kind, response.status)
        except (OSError, http.client.HTTPException) as exc:
            log.warning("ark: %s not sent: %r", kind, exc)
        finally:
            conn.close()


def _lift_protobuf(record: bytes) -> tuple[str, bytes] | None:
    return _core.decode_event(record)


def _lift_json(record: bytes) -> tuple[str, bytes] | None:
    return _core.decode_event(record, "json")


def _read_record(response: http.client.HTTPResponse) -> bytes | None:
    """The next RecordIO record, ``None`` at the end of the stream."""
    prefix = response.readline(24)
    if not prefix:
        return None
    line = prefix.strip()
    if not line.isdigit():
        raise RecordIOError(f"bad record length prefix {prefix!r}")
    size = int(line)
    if size > _MAX_RECORD:
        raise RecordIOError(f"record of {size} bytes is too large")
    record = response.read(size)
    if len(record) < size:
        return None
    return record
