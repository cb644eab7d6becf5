"""One scheduler process of the fault tests: the example framework under ``Standby``.

    python tests/faults/scheduler_process.py MASTER ZK_HOSTS PATH LOG [SESSION_TIMEOUT]

MASTER and ZK_HOSTS are this process's own fault proxies. Writes
``elected <epoch> <time>`` and ``revoked <time>`` to LOG (``time.time()``);
runs until SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ark import Config, Scheduler
from ark.drivers import V1Driver
from ark.election import Term
from ark.examples.everywhere.framework import Everywhere, EverywhereManager, TaskSpec
from ark.high_availability import Standby
from ark.store import Store

#: Short intervals, so that a dropped call is repaired in seconds; offers are
#: declined for 0.2 s only, so a leader calls Mesos all the time.
SPEC = TaskSpec(command="sleep 3600", refuse_seconds=0.2)
#: The core's launch backoff after a copy fails: short, as the rest.
CONFIG = Config(backoff_seconds=0.2)
#: Task ids of a term start at ``epoch * TERM_IDS``: never one id in two terms.
TERM_IDS = 1_000_000


def main() -> None:
    master, zk_hosts, path, log_path = sys.argv[1:5]
    session_timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s [{Path(log_path).stem}] %(name)s %(message)s"
    )
    log = Path(log_path)

    def note(line: str) -> None:
        with log.open("a") as f:
            f.write(f"{line} {time.time():.6f}\n")

    def make(store: Store, on_fenced: Callable[[], None], term: Term) -> Scheduler[Everywhere]:
        note(f"elected {term.epoch}")
        driver = V1Driver(
            master,
            {"name": "everywhere-faults", "user": "test"},
            backoff_seconds=0.05,
            backoff_cap_seconds=0.5,
            connect_timeout=2.0,
        )
        return Scheduler(
            EverywhereManager(SPEC),
            Everywhere(launched=term.epoch * TERM_IDS),
            driver,
            store=store,
            on_fenced=on_fenced,
            config=CONFIG,
            reconcile_seconds=2.0,
        )

    standby = Standby(zk_hosts, path, make, identity=log.stem, session_timeout=session_timeout)
    standby.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    standby.stop()


if __name__ == "__main__":
    main()
