"""One scheduler process of the deployment failover tests: a Standby whose
framework deploys v1 of group ``web``, then, once v1 completed, v2.

    python tests/ha/deploy_process.py MASTER ZK_HOSTS PATH KIND LOG

KIND ``good``: v2 runs well (each copy STAGING a second, so the update takes
a while); ``failing``: v2 fails its health check and is killed, and the
deployment rolls back after two failures. Writes ``elected <epoch>`` to LOG
each time it leads, and each change of the deployment to ``LOG.deploy``
(``epoch version state failures new.up new.ready old.up old.ready
reported``, the last 1 once registered and not reconciling).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from ark import Config, Scheduler, StateManager, Step, task_payload
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from ark.election import Term
from ark.high_availability import Standby
from ark.store import Store

RESOURCES = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)]
INSTANCES = 3
CHECK = m.HealthCheck(
    "COMMAND",
    command="true",
    delay_seconds=0.0,
    interval_seconds=0.2,
    timeout_seconds=0.1,
    consecutive_failures=1,
    grace_period_seconds=0.0,
)


def payload(*labels: tuple[str, str]) -> bytes:
    return task_payload(
        "sleep 3600", labels={"labels": [{"key": k, "value": v} for k, v in labels]}
    )


def v2(kind: str) -> m.Deploy:
    if kind == "failing":
        bad = payload(("ark.sim/health", "fail"), ("ark.sim/staging", "0.5"))
        template = m.TaskRequest("v2", RESOURCES, group="web", payload=bad, health_check=CHECK)
        # One copy at a time (ceiling 4, floor 3): its failures come one by one.
        return m.Deploy("web", template, INSTANCES, maximum_over_capacity=0.33, max_failures=2)
    slow = payload(("ark.sim/staging", "1.0"))
    template = m.TaskRequest("v2", RESOURCES, group="web", payload=slow)
    # Floor 2, ceiling 4: one v1 task may go at once, one v2 extra may start.
    return m.Deploy(
        "web", template, INSTANCES, minimum_health_capacity=0.67, maximum_over_capacity=0.33
    )


class Rollout(StateManager[str]):
    """v1, then v2; the state is the last deployment line written."""

    def __init__(self, kind: str, epoch: int, out: Path) -> None:
        self.kind, self.epoch, self.out = kind, epoch, out

    def registered(self, state: str, framework_id: str, framework: Snapshot) -> Step[str]:
        if "web" in framework.deployments():
            return self.note(state, framework)  # resumed from the store
        v1 = m.TaskRequest("v1", RESOURCES, group="web", payload=payload())
        return state, [m.Deploy("web", v1, INSTANCES)]

    def status_update(self, state: str, status: m.TaskStatus, framework: Snapshot) -> Step[str]:
        state, _ = self.note(state, framework)
        d = framework.deployments().get("web")
        if d is not None and d.version == "v1" and d.state == "completed":
            return state, [v2(self.kind)]
        return state, ()

    def note(self, state: str, framework: Snapshot) -> Step[str]:
        d = framework.deployments().get("web")
        if d is None:
            return state, ()
        # Whether Mesos has reported the tasks: registered and not reconciling.
        reported = int(framework.registered and framework.reconciliation_phase != "explicit")
        line = (
            f"{self.epoch} {d.version} {d.state} {d.failures} "
            f"{d.new.up} {d.new.ready} {d.old.up} {d.old.ready} {reported}"
        )
        if line != state:
            with self.out.open("a") as f:
                f.write(line + "\n")
        return line, ()


def main() -> None:
    master, zk_hosts, path, kind, log_path = sys.argv[1:6]
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s [{Path(log_path).stem}] %(name)s %(message)s"
    )
    log = Path(log_path)
    out = log.with_suffix(".deploy")

    def make(store: Store, on_fenced: object, term: Term) -> Scheduler[str]:
        with log.open("a") as f:
            f.write(f"elected {term.epoch}\n")
        driver = V1Driver(master, {"name": "deploy-ha", "user": "test"}, backoff_seconds=0.05)
        return Scheduler(
            Rollout(kind, term.epoch, out),
            "",
            driver,
            config=Config(backoff_seconds=0.05, backoff_max_seconds=0.1),
            store=store,
            on_fenced=on_fenced,  # type: ignore[arg-type]
            reconcile_seconds=None,
            tick_seconds=0.05,
        )

    standby = Standby(zk_hosts, path, make, identity=log.stem, session_timeout=1.0).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    standby.stop()


if __name__ == "__main__":
    main()
