"""What both examples share to run and serve their REST API.

The process: flags for the master, the driver and the API; an embedded
simulator unless ``--master`` is given; SIGINT and SIGTERM stop it cleanly
(the scheduler fails over, so its tasks keep running for the next one).
The API: each request is a custom message asked of the loop; mutating
endpoints need ``Authorization: Bearer <token>``; an endpoint takes a body
only if its handler says so (``opt={"body": True}``), the others refuse one
with 413 before any handler runs.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import ipaddress
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import uvicorn
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.handlers.base import BaseRouteHandler

from ark import Scheduler
from ark.drivers import PymesosDriver, V1Driver
from ark.errors import ArkError, InboxClosed
from ark.messages import Custom
from ark.scheduler import Driver

__all__ = [
    "MAX_HEAD_BYTES",
    "StopSignals",
    "add_arguments",
    "api_server",
    "ask",
    "bearer",
    "free_port",
    "no_body",
    "serve",
    "token",
]

S = TypeVar("S")

#: The largest request line plus headers uvicorn accepts (its ``h11_max_incomplete_event_size``).
MAX_HEAD_BYTES = 16 * 1024

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


# --- the API ------------------------------------------------------------------------


async def ask(scheduler: Scheduler[Any], message: Custom, timeout: float) -> Any:
    """The loop's reply to ``message``: 503 if it is shutting down or slow, 500 if it failed."""
    try:
        future = scheduler.ask(message)
    except InboxClosed:
        raise ServiceUnavailableException("the scheduler is shutting down") from None
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        raise ServiceUnavailableException(
            f"the scheduler did not answer within {timeout} s"
        ) from None
    except ArkError as exc:
        raise HTTPException(status_code=500, detail=f"the scheduler failed: {exc}") from None


def bearer(token: str) -> Guard:
    """A guard: 401 without a bearer token, 403 with another than ``token``."""

    def authorized(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        header = connection.headers.get("authorization", "")
        scheme, _sep, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise NotAuthorizedException("a bearer token is required")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise PermissionDeniedException("wrong token")

    return authorized


def no_body(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """A guard: 413 for a body announced to a handler without ``opt={"body": True}``."""
    if handler.opt.get("body"):
        return
    length = connection.headers.get("content-length", "0").strip()
    if length != "0" or "transfer-encoding" in connection.headers:
        raise HTTPException(status_code=413, detail="this endpoint takes no request body")


# --- the process --------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser, agents: int) -> None:
    """The flags both examples take: master, driver, API; ``agents`` of the embedded cluster."""
    p.add_argument("--master", help="host:port or zk://host:port/path; default: embedded sim")
    p.add_argument("--agents", type=int, default=agents, help="agents of the embedded cluster")
    p.add_argument("--driver", choices=["v1", "pymesos"], default="v1")
    p.add_argument(
        "--encoding",
        choices=["auto", "protobuf", "json"],
        default="auto",
        help="the v1 driver's API encoding; auto: protobuf, JSON if the master refuses it",
    )
    p.add_argument("--api-host", default="127.0.0.1")
    p.add_argument("--api-port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--token", default=os.environ.get("ARK_TOKEN"), help="or $ARK_TOKEN")
    p.add_argument("--user", default=os.environ.get("USER", "root"))
    p.add_argument("--reconcile-seconds", type=float, default=600.0)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def token(args: argparse.Namespace) -> str | None:
    """``--token``, else a fresh one on loopback; None (said on stderr) beyond loopback."""
    if args.token:
        return str(args.token)
    if not _loopback(args.api_host):
        print("refusing to serve the API beyond loopback without --token", file=sys.stderr)
        return None
    return secrets.token_urlsafe(16)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def api_server(app: Litestar, host: str, port: int) -> uvicorn.Server:
    """An example's API as uvicorn serves it (``run()`` serves until ``should_exit``)."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            http="h11",  # httptools caps no header size; h11 does
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
    )


class StopSignals:
    """SIGINT and SIGTERM ask for a clean stop instead of killing the process.

    uvicorn catches both while it serves and, once it has shut down, raises
    the signal again for the handler that was there before: this one, which
    only notes it, so that :func:`serve` goes on to stop the scheduler (with
    failover) and the simulator, and returns. A signal before the server
    runs stops it as soon as it starts.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.server: uvicorn.Server | None = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, sig: int, frame: FrameType | None) -> None:
        self.received.append(sig)
        if self.server is not None:
            self.server.should_exit = True


def serve(
    args: argparse.Namespace,
    api_token: str,
    framework: dict[str, Any],
    scheduler_for: Callable[[Driver], Scheduler[S]],
    app_for: Callable[[Scheduler[S], str], Litestar],
    writes: str,
) -> None:
    """Run the scheduler ``scheduler_for`` makes and its API until SIGINT or
    SIGTERM, against ``--master`` or an embedded simulator of ``--agents``;
    ``writes`` names the endpoints the token guards (printed with it)."""
    signals = StopSignals()
    cluster = None
    scheduler: Scheduler[S] | None = None
    try:
        master = args.master
        if master is None:
            from ark.sim import AgentShape, Cluster, ClusterConfig

            cluster = Cluster(ClusterConfig(agents=(AgentShape(count=args.agents),))).start()
            master = cluster.url
            print(f"embedded Mesos simulator: {master} ({args.agents} agents)")
        driver: Driver = (
            V1Driver(master, framework, encoding=args.encoding)
            if args.driver == "v1"
            else PymesosDriver(master.removeprefix("http://"), framework)
        )
        scheduler = scheduler_for(driver)
        port = args.api_port or free_port(args.api_host)
        server = api_server(app_for(scheduler, api_token), args.api_host, port)
        signals.server = server
        scheduler.start()
        url = f"http://{args.api_host}:{port}"
        print(f"API: {url}/state  (OpenAPI: {url}/schema, JSON: {url}/schema/openapi.json)")
        print(f"token for {writes.format(url=url)}: {api_token}", flush=True)
        if not signals.received:
            server.run()  # until SIGINT / SIGTERM
    finally:
        # Failover: the tasks keep running for the next scheduler to take over.
        if scheduler is not None:
            scheduler.shutdown(failover=True)
        if cluster is not None:
            cluster.stop()
    stopped = "scheduler (failover), API" + (", simulator" if cluster is not None else "")
    names = dict.fromkeys(signal.Signals(s).name for s in signals.received)  # once each
    why = ", ".join(names) or "the server's exit"
    print(f"stopped on {why}: {stopped}", flush=True)
