"""Run the example: against a real master, or by default on an embedded simulated cluster.

    python -m ark.examples.stateful                        # 3 replicas on 4 simulated agents
    python -m ark.examples.stateful --master zk://zk1:2181/mesos --role db --principal ark \\
        --api-host 0.0.0.0 --token "$(cat token)"
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ark import Config, Scheduler
from ark.examples import serving
from ark.examples.stateful.api import create_app
from ark.examples.stateful.framework import ServiceSpec, Stateful, StatefulManager
from ark.scheduler import Driver

log = logging.getLogger("ark.examples.stateful")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="ark-stateful",
        description="Keep N replicas running, each on its own persistent volume.",
    )
    serving.add_arguments(p, agents=4)
    p.add_argument("--name", default="db", help="replicas are <name>-0, <name>-1, ...")
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--role", default="db", help="the framework's role: volumes are reserved for it")
    p.add_argument("--principal", default="ark", help="the framework's principal")
    p.add_argument("--cpus", type=float, default=0.1)
    p.add_argument("--mem", type=float, default=32.0)
    p.add_argument("--volume-mb", type=float, default=64.0)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    token = serving.token(args)
    if token is None:
        return 2
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

    def scheduler_for(driver: Driver) -> Scheduler[Stateful]:
        return Scheduler(
            StatefulManager(spec),
            Stateful(count=args.replicas),
            driver,
            config=Config(),
            reconcile_seconds=args.reconcile_seconds,
        )

    framework = {
        "name": f"ark-{args.name}",
        "user": args.user,
        "role": args.role,
        "principal": args.principal,
    }
    serving.serve(
        args,
        token,
        framework,
        scheduler_for,
        create_app,
        writes="PUT {url}/replicas, POST {url}/replicas/<n>/replace",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
