"""One scheduler process of the stateful failover test: a Standby running a
three-replica service, each replica on a persistent volume of its own.

    python tests/ha/stateful_process.py MASTER ZK_HOSTS PATH LOG

Writes ``elected <epoch>`` to LOG each time it leads; runs until SIGTERM.
On SIGUSR1 the leader replaces pg-1 (``m.Replace`` of its live copy) and, once
the batch after it has run (the store holds the release by then), writes the
replaced task's id to LOG.replaced.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from ark import Reply, Scheduler, StateManager, Step, task_payload
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from ark.election import Term
from ark.high_availability import Standby
from ark.store import Store

ROLE = "db"
REPLICAS = [f"pg-{i}" for i in range(3)]
# Each replica stays STAGING this long, so that the test can kill the leader
# after its ACCEPT (RESERVE, CREATE, LAUNCH) and before any update.
STAGING_SECONDS = 2.0


def replica(name: str) -> m.TaskRequest:
    """A replica writes ``marker=<name>`` into its volume when it runs; its
    health check fails once the test says so (``Cluster.set_health``)."""
    labels = {
        "labels": [
            {"key": "ark.sim/volume-write", "value": f"marker={name}"},
            {"key": "ark.sim/staging", "value": str(STAGING_SECONDS)},
        ]
    }
    return m.TaskRequest(
        name,
        [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)],
        payload=task_payload("sleep 3600", labels=labels),
        group="pg",
        constraints=[m.Constraint("hostname", "UNIQUE")],
        health_check=m.HealthCheck(
            "COMMAND",
            command="true",
            delay_seconds=0.0,
            interval_seconds=0.2,
            consecutive_failures=1,
            grace_period_seconds=0.0,
        ),
        kill_policy=m.KillPolicy(0.1),
        volume=m.Volume(f"{name}-data", "data", 64.0, ROLE, principal="ark"),
    )


class ReplaceReplica(m.Custom):
    name: str


class Settle(m.Custom):
    """Answered in a batch after the one before it: that batch's store writes are done."""


class Service(StateManager[bool]):
    """Requests the replicas no earlier leader placed (the store knows those)."""

    def registered(self, state: bool, framework_id: str, framework: Snapshot) -> Step[bool]:
        if state:
            return True, ()
        known = {t.task_id.split(".")[0] for t in framework.view().tasks}
        missing = [replica(n) for n in REPLICAS if n not in known]
        return True, ([m.Request(missing)] if missing else [])

    def custom(self, state: bool, message: m.Custom, framework: Snapshot) -> Step[bool]:
        if not isinstance(message, ReplaceReplica):
            return state, [Reply(None)]
        live = [
            t.task_id
            for t in framework.view().tasks
            if t.task_id.split(".")[0] == message.name and t.state not in m.TERMINAL_STATES
        ]
        return state, [m.Replace(live[0]), Reply(live[0])] if live else [Reply(None)]


def main() -> None:
    master, zk_hosts, path, log_path = sys.argv[1:5]
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s [{Path(log_path).stem}] %(name)s %(message)s"
    )
    log = Path(log_path)
    framework = {"name": "pg-ha", "user": "test", "role": ROLE, "principal": "ark"}

    def make(store: Store, on_fenced: object, term: Term) -> Scheduler[bool]:
        with log.open("a") as f:
            f.write(f"elected {term.epoch}\n")
        driver = V1Driver(master, framework, backoff_seconds=0.05)
        return Scheduler(
            Service(),
            False,
            driver,
            store=store,
            on_fenced=on_fenced,  # type: ignore[arg-type]
            reconcile_seconds=None,
        )

    standby = Standby(zk_hosts, path, make, identity=log.stem, session_timeout=1.0).start()
    done, replace = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGUSR1, lambda *_: replace.set())
    while not done.wait(0.05):
        scheduler = standby.scheduler
        if replace.is_set() and scheduler is not None:
            replace.clear()
            replaced = scheduler.ask(ReplaceReplica("pg-1")).result(10)
            scheduler.ask(Settle()).result(10)
            log.with_suffix(".replaced").write_text(f"{replaced}\n")
    standby.stop()


if __name__ == "__main__":
    main()
