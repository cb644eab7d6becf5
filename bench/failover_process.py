"""One scheduler process of bench/failover.py: a Standby running a fleet of N tasks.

    python bench/failover_process.py MASTER ZK_HOSTS PATH N LOG SESSION_TIMEOUT [ENCODING]

A leader that finds no task (nothing stored) asks the matcher for N tasks
``task-<i>``; every leader asks for one probe task ``probe-e<epoch>``.
The matcher places nothing while reconciliation runs, so a new leader's probe
goes out once every stored task has answered and offers come back: that
launch is what the bench times. Writes ``elected <epoch>`` to LOG each time
it leads; runs until SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from ark import Scheduler, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from ark.election import Term
from ark.high_availability import Standby
from ark.store import Store
from ark.wire import task_payload

PAYLOAD = task_payload("sleep 3600")
RESOURCES = [m.Resource("cpus", scalar=0.01), m.Resource("mem", scalar=1.0)]


def request(task_id: str) -> m.TaskRequest:
    return m.TaskRequest(task_id, resources=RESOURCES, payload=PAYLOAD)


class Fleet(StateManager[None]):
    def __init__(self, tasks: int, epoch: int) -> None:
        self.tasks, self.epoch = tasks, epoch

    def registered(self, state: None, framework_id: str, framework: Snapshot) -> Step[None]:
        wanted = [request(f"probe-e{self.epoch}")]
        if framework.task_count == 0:
            wanted += [request(f"task-{i}") for i in range(self.tasks)]
        return None, [m.Request(wanted)]


def main() -> None:
    master, zk_hosts, path, n, log_path, session = sys.argv[1:7]
    encoding = sys.argv[7] if len(sys.argv) > 7 else "auto"
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s [{Path(log_path).stem}] %(name)s %(message)s"
    )
    log = Path(log_path)

    def make(store: Store, on_fenced: object, term: Term) -> Scheduler[None]:
        with log.open("a") as f:
            f.write(f"elected {term.epoch}\n")
        info = {"name": "failover-bench", "user": "bench"}
        driver = V1Driver(master, info, backoff_seconds=0.05, encoding=encoding)  # type: ignore[arg-type]
        return Scheduler(
            Fleet(int(n), term.epoch),
            None,
            driver,
            store=store,
            on_fenced=on_fenced,  # type: ignore[arg-type]
            reconcile_seconds=None,
        )

    standby = Standby(zk_hosts, path, make, identity=log.stem, session_timeout=float(session))
    standby.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    standby.stop()


if __name__ == "__main__":
    main()
