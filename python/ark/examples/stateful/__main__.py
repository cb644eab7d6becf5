"""Run the example: against a real master, or by default on an embedded simulated cluster.

    python -m ark.examples.stateful                        # 3 replicas on 4 simulated agents
    python -m ark.examples.stateful --master zk://zk1:2181/mesos --role db --principal ark \\
        --api-host 0.0.0.0 --token "$(cat token)"
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence

import uvicorn

from ark import Config, Scheduler
from ark.drivers import PymesosDriver, V1Driver
from ark.examples.everywhere.__main__ import StopSignals, _free_port, _loopback
from ark.examples.stateful.api import MAX_HEAD_BYTES, create_app
from ark.examples.stateful.framework import ServiceSpec, Stateful, StatefulManager

log = logging.getLogger("ark.examples.stateful")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="ark-stateful",
        description="Keep N replicas running, each on its own persistent volume.",
    )
    p.add_argument("--master", help="host:port or zk://host:port/path; default: embedded sim")
    p.add_argument("--agents", type=int, default=4, help="agents of the embedded cluster")
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
    p.add_argument("--name", default="db", help="replicas are <name>-0, <name>-1, ...")
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--role", default="db", help="the framework's role: volumes are reserved for it")
    p.add_argument("--principal", default="ark", help="the framework's principal")
    p.add_argument("--cpus", type=float, default=0.1)
    p.add_argument("--mem", type=float, default=32.0)
    p.add_argument("--volume-mb", type=float, default=64.0)
    p.add_argument("--user", default=os.environ.get("USER", "root"))
    p.add_argument("--reconcile-seconds", type=float, default=600.0)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    token = args.token
    if not token:
        if not _loopback(args.api_host):
            print("refusing to serve the API beyond loopback without --token", file=sys.stderr)
            return 2
        token = secrets.token_urlsafe(16)
    try:
        spec = ServiceSpec(
            name=args.name,
            role=args.role,
            principal=args.principal,
            cpus=args.cpus,
            mem=args.mem,
            volume_mb=args.volume_mb,
        )
    except ValueError as exc:
        print(f"bad service: {exc}", file=sys.stderr)
        return 2
    if not 0 <= args.replicas <= spec.max_replicas:
        print(f"--replicas must be between 0 and {spec.max_replicas}", file=sys.stderr)
        return 2

    signals = StopSignals()
    cluster = None
    scheduler: Scheduler[Stateful] | None = None
    try:
        master = args.master
        if master is None:
            from ark.sim import AgentShape, Cluster, ClusterConfig

            cluster = Cluster(ClusterConfig(agents=(AgentShape(count=args.agents),))).start()
            master = cluster.url
            print(f"embedded Mesos simulator: {master} ({args.agents} agents)")
        framework = {
            "name": f"ark-{args.name}",
            "user": args.user,
            "role": args.role,
            "principal": args.principal,
        }
        driver = (
            V1Driver(master, framework, encoding=args.encoding)
            if args.driver == "v1"
            else PymesosDriver(master.removeprefix("http://"), framework)
        )
        scheduler = Scheduler(
            StatefulManager(spec),
            Stateful(count=args.replicas),
            driver,
            config=Config(),
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
        print(f"token for PUT {url}/replicas, POST {url}/replicas/<n>/replace: {token}", flush=True)
        if not signals.received:
            server.run()  # until SIGINT / SIGTERM
    finally:
        # Failover: the replicas keep running for the next scheduler to take over.
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
