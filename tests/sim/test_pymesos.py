"""An unmodified pymesos ``MesosSchedulerDriver`` against the simulator.

pymesos is installed by ``.ci/install-pymesos.sh`` (see DESIGN.md); these
tests are skipped only when it is not installed.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sim_client import fast_config

from ark.sim import Cluster
from waiting import wait_until

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pymesos") is None,
    reason="pymesos is not installed (run .ci/install-pymesos.sh)",
)


class Recorder:
    """A pymesos Scheduler that records every callback and never raises."""

    def __init__(self, launch: bool = True) -> None:
        self.lock = threading.Lock()
        self.subscriptions: list[Any] = []
        self.resubscriptions: list[Any] = []
        self.offers: list[Any] = []
        self.updates: list[Any] = []
        self.messages: list[Any] = []
        self.errors: list[str] = []
        self.heartbeats = 0
        self.launch = launch
        self.launched: list[str] = []

    def registered_(self) -> bool:
        return bool(self.subscriptions or self.resubscriptions)

    # -- pymesos.Scheduler ----------------------------------------------------

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        with self.lock:
            self.subscriptions.append((framework_id, master_info))

    def reregistered(self, driver: Any, master_info: Any) -> None:
        with self.lock:
            self.resubscriptions.append(master_info)

    def disconnected(self, driver: Any) -> None:
        pass

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        with self.lock:
            self.offers.extend(offers)
            if not self.launch or self.launched:
                driver.declineOffer([o["id"] for o in offers], {"refuse_seconds": 0.05})
                return
            offer, rest = offers[0], offers[1:]
            task_id = f"task-{len(self.launched)}"
            self.launched.append(task_id)
        task = {
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "name": task_id,
            "command": {"value": "sleep 1000"},
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}},
            ],
        }
        driver.launchTasks(offer["id"], [task])
        if rest:
            driver.declineOffer([o["id"] for o in rest], {"refuse_seconds": 0.05})

    def offerRescinded(self, driver: Any, offer_id: Any) -> None:
        pass

    def statusUpdate(self, driver: Any, status: Any) -> None:
        with self.lock:
            self.updates.append(status)

    def frameworkMessage(self, driver: Any, executor_id: Any, agent_id: Any, data: Any) -> None:
        with self.lock:
            self.messages.append(data)

    def slaveLost(self, driver: Any, agent_id: Any) -> None:
        pass

    def executorLost(self, driver: Any, executor_id: Any, agent_id: Any, status: Any) -> None:
        pass

    def error(self, driver: Any, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def processHeartBeat(self, driver: Any) -> None:
        with self.lock:
            self.heartbeats += 1

    # -- Helpers ---------------------------------------------------------------

    def states(self, task_id: str) -> list[str]:
        with self.lock:
            return [u["state"] for u in self.updates if u["task_id"]["value"] == task_id]

    def update(self, task_id: str, state: str) -> Any:
        with self.lock:
            return next(
                (
                    u
                    for u in self.updates
                    if u["task_id"]["value"] == task_id and u["state"] == state
                ),
                None,
            )


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(fast_config(masters=2)) as c:
        yield c


def driver_for(sched: Recorder, master: str, **framework: Any) -> Any:
    from pymesos import MesosSchedulerDriver

    info = {"user": "test", "name": "pymesos-test", "failover_timeout": 3600.0}
    info.update(framework)
    return MesosSchedulerDriver(sched, info, master, use_addict=True)


def test_pymesos_subscribes_launches_kills_and_reconciles(cluster: Cluster) -> None:
    sched = Recorder()
    driver = driver_for(sched, cluster.url.split("//")[1])
    driver.start()
    try:
        wait_until(sched.registered_, what="registered")
        framework_id, master_info = sched.subscriptions[0]
        assert framework_id["value"] == cluster.state()["frameworks"][0]["id"]
        assert master_info["version"] == "1.11.0"
        wait_until(lambda: "TASK_RUNNING" in sched.states("task-0"), what="task running")
        assert sched.states("task-0")[:2] == ["TASK_STARTING", "TASK_RUNNING"]
        wait_until(lambda: sched.heartbeats >= 2, what="heartbeats")

        # Implicit acknowledgements reached the agent: nothing is re-sent.
        running = sched.update("task-0", "TASK_RUNNING")
        wait_until(lambda: sched.heartbeats >= 6, what="more heartbeats")
        assert sched.states("task-0").count("TASK_RUNNING") == 1

        driver.sendFrameworkMessage({"value": "task-0"}, running["agent_id"], "aGk=")
        wait_until(lambda: sched.messages == ["aGk="], what="echoed message")

        driver.reconcileTasks([{"task_id": {"value": "task-0"}}, {"task_id": {"value": "ghost"}}])
        wait_until(lambda: sched.update("ghost", "TASK_LOST"), what="ghost lost")
        ghost = sched.update("ghost", "TASK_LOST")
        assert ghost["reason"] == "REASON_RECONCILIATION"
        wait_until(lambda: sched.states("task-0").count("TASK_RUNNING") == 2, what="reconciled")

        driver.killTask({"value": "task-0"})
        wait_until(lambda: sched.update("task-0", "TASK_KILLED"), what="task killed")
        assert sched.errors == []
    finally:
        driver.stop()
        driver.join()
    # stop() without failover tears the framework down.
    wait_until(lambda: cluster.state()["completed_frameworks"], what="teardown")


def test_pymesos_follows_the_redirect_from_a_standby(cluster: Cluster) -> None:
    standby = next(u for u in cluster.urls if u != cluster.url)
    sched = Recorder(launch=False)
    driver = driver_for(sched, standby.split("//")[1])
    driver.start()
    try:
        wait_until(sched.registered_, what="registered through the redirect")
        assert cluster.state()["frameworks"][0]["name"] == "pymesos-test"
    finally:
        driver.stop()
        driver.join()
