"""Run the example: against a real master, or by default on an embedded simulated cluster.

    python -m ark.examples.everywhere                      # 5 simulated agents
    python -m ark.examples.everywhere --master zk://zk1:2181/mesos --api-host 0.0.0.0 \\
        --token "$(cat token)"
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ark import Config, Scheduler
from ark.examples import serving
from ark.examples.everywhere.api import create_app
from ark.examples.everywhere.framework import Everywhere, EverywhereManager, TaskSpec
from ark.scheduler import Driver

log = logging.getLogger("ark.examples.everywhere")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="ark-everywhere", description="Keep one task running on every Mesos agent."
    )
    serving.add_arguments(p, agents=5)
    p.add_argument("--name", default="everywhere")
    p.add_argument("--command", default="sleep 3600")
    p.add_argument("--cpus", type=float, default=0.1)
    p.add_argument("--mem", type=float, default=32.0)
    p.add_argument(
        "--maintenance",
        choices=["drain", "ignore"],
        default="drain",
        help="drain agents scheduled for maintenance (the core's policy), or leave them be",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    token = serving.token(args)
    if token is None:
        return 2
    spec = TaskSpec(name=args.name, command=args.command, cpus=args.cpus, mem=args.mem)

    def scheduler_for(driver: Driver) -> Scheduler[Everywhere]:
        return Scheduler(
            EverywhereManager(spec),
            Everywhere(),
            driver,
            config=Config(maintenance=args.maintenance),
            reconcile_seconds=args.reconcile_seconds,
        )

    serving.serve(
        args,
        token,
        {"name": f"ark-{args.name}", "user": args.user},
        scheduler_for,
        create_app,
        writes="PUT/DELETE {url}/blacklist/<agent>, POST/DELETE {url}/deployments",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
