"""Inverse offers through a whole scheduler, on either driver: the hook sees
them, its answer goes out as DECLINE_INVERSE_OFFERS (the simulator records
it as the machine's status), and the core keeps them until then."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sim_client import fast_config, request

from ark import Scheduler, StateManager, Step, V1Driver, task_payload
from ark import messages as m
from ark.drivers import PymesosDriver
from ark.sim import Cluster
from waiting import wait_until

HOUR_NS = 3600 * 10**9


class Declining(StateManager[int]):
    """Runs one task; declines every inverse offer, counting them."""

    def __init__(self) -> None:
        self.seen: list[m.InverseOffer] = []
        self.lock = threading.Lock()

    def registered(self, state: int, framework_id: str, framework: Any) -> Step[int]:
        task = m.TaskRequest(
            "busy", resources=[m.Resource("cpus", scalar=0.1)], payload=task_payload("sleep 600")
        )
        return state, [m.Request([task])]

    def inverse_offers(
        self, state: int, inverse_offers: Sequence[m.InverseOffer], framework: Any
    ) -> Step[int]:
        with self.lock:
            self.seen.extend(inverse_offers)
        held = {i.inverse_offer_id for i in framework.view().inverse_offers}
        assert {i.id for i in inverse_offers} <= held
        return state + 1, [m.DeclineInverseOffers([i.id for i in inverse_offers], 3600.0)]


def _operator(url: str, call: dict[str, Any]) -> Any:
    status, _, body = request(url, "POST", "/api/v1", json.dumps(call))
    assert status == 200, (status, body[:300])
    return json.loads(body) if body else None


def _driver(kind: str, url: str) -> Any:
    framework = {"name": "maintained", "user": "test"}
    if kind == "pymesos":
        if importlib.util.find_spec("pymesos") is None:
            pytest.skip("pymesos is not installed (run .ci/install-pymesos.sh)")
        return PymesosDriver(url.removeprefix("http://"), framework)
    return V1Driver(url, framework)


@pytest.mark.parametrize("kind", ["v1", "pymesos"])
def test_a_hook_declines_inverse_offers_through_the_driver(kind: str) -> None:
    manager = Declining()
    with (
        Cluster(fast_config()) as cluster,
        Scheduler(manager, 0, _driver(kind, cluster.url)) as scheduler,
    ):
        wait_until(
            lambda: (t := scheduler.snapshot().task("busy")) and t.state == "TASK_RUNNING",
            20,
            "the task running",
        )
        task = scheduler.snapshot().task("busy")
        assert task is not None and task.agent_id is not None
        hostname = {a["id"]: a["hostname"] for a in cluster.state()["slaves"]}[task.agent_id]
        window = {
            "machine_ids": [{"hostname": hostname, "ip": "127.0.0.1"}],
            "unavailability": {"start": {"nanoseconds": time.time_ns() + HOUR_NS}},
        }
        _operator(
            cluster.url,
            {
                "type": "UPDATE_MAINTENANCE_SCHEDULE",
                "update_maintenance_schedule": {"schedule": {"windows": [window]}},
            },
        )

        def declined() -> bool:
            answer = _operator(cluster.url, {"type": "GET_MAINTENANCE_STATUS"})
            status = answer["get_maintenance_status"]["status"]
            machines = status.get("draining_machines", [])
            return any(s["status"] == "DECLINE" for d in machines for s in d.get("statuses", []))

        wait_until(declined, 20, "the inverse offer declined")
        with manager.lock:
            assert manager.seen[0].agent_id == task.agent_id
            assert manager.seen[0].unavailability.duration is None
        # Answered: the core holds it no more.
        assert scheduler.snapshot().view().inverse_offers == []
