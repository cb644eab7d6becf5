"""Run the example: against a real master, or by default on an embedded simulated cluster.

    python -m ark.examples.everywhere                      # 5 simulated agents
    python -m ark.examples.everywhere --master zk://zk1:2181/mesos --api-host 0.0.0.0 \\
        --token "$(cat token)"
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType

import uvicorn

from ark import Config, Scheduler
from ark.drivers import PymesosDriver, V1Driver
from ark.examples.everywhere.api import MAX_HEAD_BYTES, create_app
from ark.examples.everywhere.framework import Everywhere, EverywhereManager, TaskSpec

log = logging.getLogger("ark.examples.everywhere")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="ark-everywhere", description="Keep one task running on every Mesos agent."
    )
    p.add_argument("--master", help="host:port or zk://host:port/path; default: embedded sim")
    p.add_argument("--agents", type=int, default=5, help="agents of the embedded cluster")
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
    p.add_argument("--name", default="everywhere")
    p.add_argument("--command", default="sleep 3600")
    p.add_argument("--cpus", type=float, default=0.1)
    p.add_argument("--mem", type=float, default=32.0)
    p.add_argument("--user", default=os.environ.get("USER", "root"))
    p.add_argument("--reconcile-seconds", type=float, default=600.0)
    p.add_argument(
        "--maintenance",
        choices=["drain", "ignore"],
        default="drain",
        help="drain agents scheduled for maintenance (the core's policy), or leave them be",
    )
    return p.parse_args(argv)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class StopSignals:
    """SIGINT and SIGTERM ask for a clean stop instead of killing the process.

    uvicorn catches both while it serves and, once it has shut down, raises
    the signal again for the handler that was there before: this one, which
    only notes it, so that :func:`main` goes on to stop the scheduler (with
    failover) and the simulator, and exits 0. A signal before the server runs
    stops it as soon as it starts.
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    token = args.token
    if not token:
        if not _loopback(args.api_host):
            print("refusing to serve the API beyond loopback without --token", file=sys.stderr)
            return 2
        token = secrets.token_urlsafe(16)

    signals = StopSignals()
    cluster = None
    scheduler: Scheduler[Everywhere] | None = None
    try:
        master = args.master
        if master is None:
            from ark.sim import AgentShape, Cluster, ClusterConfig

            cluster = Cluster(ClusterConfig(agents=(AgentShape(count=args.agents),))).start()
            master = cluster.url
            print(f"embedded Mesos simulator: {master} ({args.agents} agents)")
        framework = {"name": f"ark-{args.name}", "user": args.user}
        driver = (
            V1Driver(master, framework, encoding=args.encoding)
            if args.driver == "v1"
            else PymesosDriver(master.removeprefix("http://"), framework)
        )
        spec = TaskSpec(name=args.name, command=args.command, cpus=args.cpus, mem=args.mem)
        scheduler = Scheduler(
            EverywhereManager(spec),
            Everywhere(),
            driver,
            config=Config(maintenance=args.maintenance),
            reconcile_seconds=args.reconcile_seconds,
        )
        port = args.api_port or _free_port(args.api_host)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(scheduler, token),
                host=args.api_host,
                port=port,
                log_level="warning",
                http="h11",  # httptools caps no header size; h11 does
                h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            )
        )
        signals.server = server
        scheduler.start()
        url = f"http://{args.api_host}:{port}"
        print(f"API: {url}/state  (OpenAPI: {url}/schema, JSON: {url}/schema/openapi.json)")
        print(
            f"token for PUT/DELETE {url}/blacklist/<agent>, POST/DELETE {url}/deployments: {token}",
            flush=True,
        )
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
