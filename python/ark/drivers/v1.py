"""The native driver: Mesos's v1 scheduler HTTP API, with no pymesos.

One Python thread finds the leading master (a fixed address or ``zk://``),
follows 307 redirects and falls back to JSON if the master refuses
protobuf; once a SUBSCRIBE is answered with a stream, Rust reads it
(``ark._core.EventStream``): chunked transfer coding, RecordIO and the
event lift, straight into the scheduler's inbox, with the GIL released and
no Python object made. Calls go out from Rust too
(``ark._core.CallSender``): the core hands it the effects that need no hook,
and it encodes and writes them, pipelined on one kept-alive connection, so
the loop never waits on the network. When the stream ends, or stays silent
for ``heartbeat_misses`` heartbeat intervals, the driver pushes
``Disconnected`` and subscribes again with its framework id and
``failover_timeout`` (which a new master does not remember), after a
truncated exponential backoff.

Calls made while no stream is up are dropped, as Mesos drops them: the
reconciliation that follows every subscription repairs what they would have
done. A call whose launch payload has a field outside Ark's ``.proto``
subset goes as JSON, which Mesos accepts call by call.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from ark import _core, protobuf
from ark import effects as fx
from ark import messages as m
from ark._core import CallSender, EventStream, Inbox
from ark.drivers.detector import MasterDetector, parse_address
from ark.drivers.framework_info import framework_info, update_framework_call, updated
from ark.errors import ArkError, InboxClosed

__all__ = ["V1Driver"]

log = logging.getLogger(__name__)

API = "/api/v1/scheduler"
_MAX_REDIRECTS = 5
JSON = "application/json"
PROTOBUF = protobuf.CONTENT_TYPE

Encoding = Literal["auto", "protobuf", "json"]
# A call encoded in Python: its type (for the logs), its body, and the body's media type.
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
        self._inbox: Inbox | None = None
        self._stopping = threading.Event()
        self._calls = CallSender(_report)
        self._lock = threading.Lock()
        self._stream: EventStream | None = None
        self._thread: threading.Thread | None = None
        #: The last ERROR event's message: the master removed or refused the framework.
        self.error: str | None = None
        #: Streams that got as far as SUBSCRIBED and have ended (the fault tests count them).
        self.subscriptions = 0

    @property
    def framework_id(self) -> str | None:
        """The framework id, once a master has assigned it."""
        target = self._calls.target
        return target[3] if target is not None else self._framework_id

    @property
    def calls(self) -> CallSender:
        """The Rust call sender the core hands calls to directly."""
        return self._calls

    # --- the Driver protocol ------------------------------------------------------

    def start(self, inbox: Inbox, framework_id: str | None = None) -> None:
        """Subscribe in the background (as ``framework_id`` if given); events go to ``inbox``."""
        self._inbox = inbox
        if framework_id is not None:
            self._framework_id = framework_id
        self._thread = threading.Thread(
            target=self._subscribe_loop, name="ark-v1-stream", daemon=True
        )
        self._thread.start()

    def run(self, effects: Sequence[fx.Effect]) -> None:
        """Queue the calls for ``effects`` (effects the core did not send itself); never blocks.

        The sender encodes them for the current subscription, or drops and
        counts them when there is none. An ``UpdateFramework`` changes the
        FrameworkInfo every later SUBSCRIBE carries, and goes as the
        UPDATE_FRAMEWORK call from a thread of its own when subscribed.
        """
        calls = [e for e in effects if not isinstance(e, fx.UpdateFramework)]
        if calls:
            self._calls.send(_effects_encoder.encode(calls))
        for effect in effects:
            if isinstance(effect, fx.UpdateFramework):
                self._update_framework(effect)

    def stop(self, failover: bool) -> None:
        """Close the stream; without ``failover``, TEARDOWN first (Mesos kills every task)."""
        target = self._calls.target
        self._calls.flush(self._connect_timeout)
        if not failover and target is not None:
            self._teardown(target)
        self._stopping.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread is not None:
            self._thread.join(self._connect_timeout)
        self._calls.close()
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
                if not self._emit(m.encode(m.Disconnected())):
                    return
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
            call: dict[str, Any] = {
                "type": "SUBSCRIBE",
                "subscribe": {"framework_info": self._framework_info()},
            }
            if self._framework_id is not None:
                call["framework_id"] = {"value": self._framework_id}
            _, body, media_type = self._encode(call)
            headers = [
                *self._headers.items(),
                ("Content-Type", media_type),
                ("Accept", self._accept()),
            ]
            try:
                status, response_headers, text, stream = _core.open_event_stream(
                    *address, headers, body, timeout=self._connect_timeout
                )
            except OSError as exc:
                log.warning("ark: master %s:%d unreachable: %r", *address, exc)
                return False
            if status in (301, 302, 303, 307, 308):
                location = _header(response_headers, "Location") or ""
                try:
                    address = parse_address(location)
                except ArkError:
                    log.error("ark: redirect to %r is not a master address", location)
                    return False
                log.info("ark: redirected to the leading master %s:%d", *address)
                continue
            if status in (406, 415) and self._fall_back_to_json():
                continue
            if status != 200 or stream is None:
                log.warning("ark: SUBSCRIBE answered %d: %s", status, text.decode(errors="replace"))
                return False
            return self._read_stream(stream, address)
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
        with self._lock:
            info = dict(self._info)
        if self._framework_id is not None:
            info["id"] = {"value": self._framework_id}
        return info

    def _read_stream(self, stream: EventStream, address: tuple[str, int]) -> bool:
        assert self._inbox is not None
        with self._lock:
            if self._stopping.is_set():
                stream.close()
                return False
            self._stream = stream
        log.info("ark: event stream from %s:%d (%s)", *address, stream.encoding)
        try:
            ended = stream.run(
                self._inbox,
                self._calls,
                call_headers=list(self._headers.items()),
                heartbeat_misses=self._heartbeat_misses,
            )
        finally:
            with self._lock:
                self._stream = None
        for line in ended["malformed"]:
            log.error("ark: malformed event skipped: %s", line)
        if ended["framework_id"] is not None:
            self._framework_id = ended["framework_id"]
        if ended["error"] is not None:
            log.error("ark: the master sent ERROR: %s", ended["error"])
            self.error = ended["error"]
        if ended["subscribed"]:
            self.subscriptions += 1
        if not self._stopping.is_set():
            log.warning("ark: event stream from %s:%d ended: %s", *address, ended["reason"])
        if ended["reason"] == "the inbox is closed":
            self._stopping.set()
        return bool(ended["subscribed"])

    def _emit(self, data: bytes) -> bool:
        assert self._inbox is not None
        try:
            self._inbox.push(data)
        except InboxClosed:
            # The scheduler is shutting down.
            self._stopping.set()
            return False
        return True

    def _update_framework(self, effect: fx.UpdateFramework) -> None:
        with self._lock:
            self._info = updated(self._info, effect)
            info = self._info
        target = self._calls.target
        if target is None:
            log.info("ark: not subscribed: the next SUBSCRIBE carries the updated FrameworkInfo")
            return
        host, port, stream_id, framework_id, _ = target
        call = update_framework_call(info, framework_id, effect)
        thread = threading.Thread(
            target=self._post_update,
            args=(host, port, stream_id, call),
            name="ark-v1-update-framework",
            daemon=True,
        )
        thread.start()

    def _post_update(self, host: str, port: int, stream_id: str, call: dict[str, Any]) -> None:
        """POST one UPDATE_FRAMEWORK (Mesos answers 200 OK, or 4xx with the reason)."""
        _, body, media_type = self._encode(call)
        conn = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        try:
            headers = {**self._headers, "Content-Type": media_type, "Mesos-Stream-Id": stream_id}
            conn.request("POST", API, body, headers)
            response = conn.getresponse()
            text = response.read()
            if response.status == 200:
                log.info("ark: framework updated: %s", call["update_framework"]["suppressed_roles"])
            else:
                log.error(
                    "ark: UPDATE_FRAMEWORK answered %d: %s",
                    response.status,
                    text.decode(errors="replace"),
                )
        except (OSError, http.client.HTTPException) as exc:
            log.warning("ark: UPDATE_FRAMEWORK not sent: %r", exc)
        finally:
            conn.close()

    def _teardown(self, target: tuple[str, int, str, str, str]) -> None:
        """TEARDOWN now, on the caller's thread (Mesos kills every task)."""
        host, port, stream_id, framework_id, _ = target
        body = json.dumps({"framework_id": {"value": framework_id}, "type": "TEARDOWN"})
        conn = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        try:
            headers = {**self._headers, "Content-Type": JSON, "Mesos-Stream-Id": stream_id}
            conn.request("POST", API, body.encode(), headers)
            response = conn.getresponse()
            response.read()
            if response.status != 202:
                log.warning("ark: TEARDOWN answered %d", response.status)
        except (OSError, http.client.HTTPException) as exc:
            log.warning("ark: TEARDOWN not sent: %r", exc)
        finally:
            conn.close()


_effects_encoder = msgspec.msgpack.Encoder()


def _report(line: str) -> None:
    log.warning("ark: %s", line)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    return next((value for key, value in headers if key.lower() == name), None)
