"""The HTTP face of a simulated master (aiohttp on loopback).

Endpoints: ``POST /api/v1/scheduler`` (the v1 scheduler API, also under
``/master``),
``GET /version``, ``GET /master/state`` (and ``/state``), ``GET /health``,
``GET /master/redirect``, the maintenance calls of the operator API
(``POST /api/v1``, ``/master/maintenance/schedule`` and ``/status``) and the
simulator's own ``POST /admin/fault``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ark.recordio import frame

from . import codec
from .maintenance import operator_call
from .master import Master
from .validation import CallError, validate

__all__ = ["HttpEventSink", "MasterServer"]

log = logging.getLogger(__name__)

FaultHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class HttpEventSink:
    """A SUBSCRIBE response: RecordIO records in HTTP chunks.

    Events are encoded when sent and written in order by one writer task;
    records queued while a write is in flight share the next chunk, which
    RecordIO allows. ``delay`` holds every event back that many seconds.
    """

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        stream_id: str,
        *,
        delay: float = 0.0,
        media_type: str = codec.JSON,
    ) -> None:
        self.stream_id = stream_id
        self.delay = delay
        self._request = request
        self._response = response
        self._media_type = media_type
        self._loop = asyncio.get_running_loop()
        self._queue: deque[tuple[float, bytes]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._aborted = False

    @property
    def aborted(self) -> bool:
        """Whether the connection was dropped (by a fault or a crash)."""
        return self._aborted

    def send(self, event: dict[str, Any]) -> None:
        """Queue one event."""
        if self._closing or self._aborted:
            return
        record = frame(codec.encode_event(event, self._media_type))
        self._queue.append((self._loop.time() + self.delay, record))
        self._wake.set()

    def close(self) -> None:
        """Write what is queued, then end the chunked response."""
        self._closing = True
        self._wake.set()

    def abort(self) -> None:
        """Reset the connection at once."""
        self._aborted = True
        transport = self._request.transport
        if transport is not None:
            transport.abort()
        self._wake.set()

    async def run(self) -> None:
        """Write events until the stream is closed or the connection lost."""
        queue = self._queue
        while not self._aborted:
            if not queue:
                if self._closing:
                    await self._response.write_eof()
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = queue[0][0] - self._loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            now = self._loop.time()
            chunk = []
            while queue and queue[0][0] <= now:
                chunk.append(queue.popleft()[1])
            await self._response.write(b"".join(chunk))


def _drop(server: Any) -> None:
    """Reset every connection an aiohttp server holds."""
    if server is None:
        return
    for handler in list(server.connections):
        handler.force_close()
        if handler.transport is not None:
            handler.transport.abort()


def _text(status: int, message: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=message, headers=headers or None)


class MasterServer:
    """The HTTP server of one simulated master process."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        version: str,
        max_body_bytes: int,
        leader: Callable[[], dict[str, Any] | None],
        faults: FaultHandler,
        event_delay: Callable[[], float],
    ) -> None:
        self.host = host
        self.port = port
        self.version = version
        self.master: Master | None = None
        self._leader = leader
        self._faults = faults
        self._event_delay = event_delay
        self._max_body = max_body_bytes
        self._runner: web.AppRunner | None = None
        self.sinks: set[HttpEventSink] = set()

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0: a free one, kept across restarts)."""
        app = web.Application(client_max_size=self._max_body)
        # libprocess serves a process's routes under its id too ("master").
        for path in ("/api/v1/scheduler", "/master/api/v1/scheduler"):
            app.router.add_route("*", path, self._scheduler)
        app.router.add_get("/version", self._version)
        for path in ("/master/state", "/state", "/master/state.json", "/state.json"):
            app.router.add_get(path, self._state)
        app.router.add_get("/health", self._health)
        app.router.add_get("/master/health", self._health)
        app.router.add_get("/master/redirect", self._redirect)
        app.router.add_post("/admin/fault", self._fault)
        for path in ("/api/v1", "/master/api/v1"):
            app.router.add_post(path, self._operator)
        app.router.add_route("*", "/master/maintenance/schedule", self._maintenance_schedule)
        app.router.add_get("/master/maintenance/status", self._maintenance_status)
        # Cancelling handlers on disconnect is how a closed subscription is noticed
        # at once, as libprocess notices a closed socket.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.1
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            server = site._server
            assert isinstance(server, asyncio.base_events.Server)
            self.port = server.sockets[0].getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        for sink in list(self.sinks):
            sink.abort()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            # Stop accepting first, then drop every connection at once: a
            # master that crashes does not finish its keep-alive calls, and
            # aiohttp's graceful shutdown can leave one accepted meanwhile open.
            server = runner.server
            # asyncio accepts a connection and makes its transport a loop turn
            # later, and that fails (leaking the accepted socket) if the
            # listener closed meanwhile. So stop accepting, let the accepted
            # ones become transports, and only then close and drop them all.
            loop = asyncio.get_running_loop()
            for site in runner.sites:
                listener = getattr(site, "_server", None)
                for sock in getattr(listener, "sockets", None) or ():
                    loop.remove_reader(sock.fileno())
            _drop(server)  # a crashed master answers nothing more
            for _ in range(3):
                await asyncio.sleep(0)
            for site in list(runner.sites):
                await site.stop()
            _drop(server)
            await runner.cleanup()

    # -- Helpers ------------------------------------------------------------

    def _not_leading(self, path: str) -> web.Response | None:
        """307 to the leader, or 503 when there is none; None when leading."""
        if self.master is not None and self.master.leading:
            return None
        leader = self._leader()
        if leader is None:
            return _text(503, "No leader elected")
        address = leader["address"]
        return _text(
            307,
            f"Not the leading master; the leader is at {address['ip']}:{address['port']}",
            Location=f"//{address['ip']}:{address['port']}{path}",
        )

    # -- Handlers -----------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "version": self.version,
                "build_date": "",
                "build_time": 0,
                "build_user": "ark-sim",
                "git_sha": "",
                "git_tag": self.version,
            }
        )

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _redirect(self, request: web.Request) -> web.Response:
        leader = self._leader()
        if leader is None:
            return _text(503, "No leader elected")
        address = leader["address"]
        return _text(307, "", Location=f"//{address['ip']}:{address['port']}")

    async def _state(self, request: web.Request) -> web.Response:
        refusal = self._not_leading(request.path)
        if refusal is not None:
            return refusal
        assert self.master is not None
        return web.json_response(self.master.state(self._leader()))

    async def _fault(self, request: web.Request) -> web.Response:
        try:
            fault = codec.decode_call(await request.read())
            result = await self._faults(fault)
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            return _text(400, f"Bad fault: {exc}")
        return web.json_response(result)

    async def _operator(self, request: web.Request) -> web.Response:
        """The v1 operator API; the simulator serves its maintenance calls."""
        refusal = self._not_leading("/master/api/v1")
        if refusal is not None:
            return refusal
        assert self.master is not None
        try:
            call = codec.decode_call(await request.read())
            status, answer = operator_call(self.master, call)
        except codec.CodecError as exc:
            return _text(400, str(exc))
        except CallError as exc:
            return _text(exc.status, exc.message)
        if answer is None:
            return web.Response(status=status)
        return web.json_response(answer, status=status)

    async def _maintenance_schedule(self, request: web.Request) -> web.Response:
        """``/master/maintenance/schedule``: GET the schedule, POST a new one."""
        refusal = self._not_leading(request.path)
        if refusal is not None:
            return refusal
        assert self.master is not None
        if request.method == "GET":
            return web.json_response(self.master.schedule)
        if request.method != "POST":
            return _text(405, f"Expecting 'GET' or 'POST', received '{request.method}'")
        try:
            self.master.update_schedule(codec.decode_call(await request.read()))
        except codec.CodecError as exc:
            return _text(400, str(exc))
        except CallError as exc:
            return _text(exc.status, exc.message)
        return web.Response(status=200)

    async def _maintenance_status(self, request: web.Request) -> web.Response:
        refusal = self._not_leading(request.path)
        if refusal is not None:
            return refusal
        assert self.master is not None
        return web.json_response(self.master.maintenance_status())

    async def _scheduler(self, request: web.Request) -> web.StreamResponse:
        # As ``Master::Http::scheduler``: a standby redirects whatever the
        # method, to the leader's route under the master's process id; then
        # the method, the headers, the body, the call.
        refusal = self._not_leading("/master/api/v1/scheduler")
        if refusal is not None:
            return refusal
        if request.method != "POST":
            return _text(
                405,
                "405 Method Not Allowed. Expecting one of { 'POST' }, "
                f"but received '{request.method}'.",
                Allow="POST",
            )
        master = self.master
        assert master is not None
        # Compared as sent: Mesos takes neither parameters nor another case.
        content_type = request.headers.get("Content-Type")
        if content_type is None:
            return _text(400, "Expecting 'Content-Type' to be present")
        if not codec.supported_content_type(content_type):
            return _text(415, f"Expecting 'Content-Type' of {codec.JSON} or {codec.PROTOBUF}")
        body = await request.read()
        try:
            call = codec.decode_call(body, content_type)
            kind = validate(call)
        except codec.CodecError as exc:
            return _text(400, str(exc))
        except CallError as exc:
            return _text(exc.status, exc.message)
        stream_id = request.headers.get("Mesos-Stream-Id")
        if kind != "SUBSCRIBE":
            try:
                answer = master.call(call, kind, stream_id)
            except CallError as exc:
                return _text(exc.status, exc.message)
            return web.Response(status=answer)
        if stream_id is not None:
            return _text(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
        media_type = codec.accepted_media_type(request.headers.get("Accept"))
        if media_type is None:
            return _text(406, f"Expecting 'Accept' to allow '{codec.PROTOBUF}' or '{codec.JSON}'")
        return await self._subscribe(request, master, call, media_type)

    async def _subscribe(
        self, request: web.Request, master: Master, call: dict[str, Any], media_type: str
    ) -> web.StreamResponse:
        stream_id = master.new_stream_id()
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": media_type,
                "Mesos-Stream-Id": stream_id,
                "Cache-Control": "no-cache",
            },
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        sink = HttpEventSink(
            request, response, stream_id, delay=self._event_delay(), media_type=media_type
        )
        self.sinks.add(sink)
        try:
            master.subscribe(call, sink)
            await sink.run()
        except ConnectionError:
            pass  # The subscriber went away; the finally clause tells the master.
        finally:
            self.sinks.discard(sink)
            master.stream_closed(sink)
            transport = request.transport
            if sink.aborted and transport is not None:
                # A dropped stream must look like a reset, not a clean end.
                transport.abort()
        return response
