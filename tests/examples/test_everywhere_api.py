"""The example end to end: master, scheduler, native driver and REST API, all over sockets.

The API checks run on the simulator and on a real Mesos (``sim.masters``);
the ones that need the simulator's fault controls on the simulator only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from served import AUTH, Served

from ark import Config, Scheduler
from ark.drivers import V1Driver
from ark.examples.everywhere.api import MAX_HEAD_BYTES, create_app
from ark.examples.everywhere.framework import Everywhere, EverywhereManager, TaskSpec
from ark.sim import AgentShape, Cluster, TaskBehaviour
from sim.masters import MESOS_DIST, TEST_MASTER, Master, RealMesos, _leader_url
from sim.sim_client import fast_config
from waiting import wait_until


class Stack(Served[Everywhere]):
    """A cluster, the example scheduler on it, and its API served by uvicorn."""

    def __init__(
        self, master: Master, address: str | None = None, config: Config | None = None
    ) -> None:
        self.master = master
        spec = TaskSpec(refuse_seconds=0.2)
        self.driver = V1Driver(address or master.url, {"name": "everywhere", "user": "test"})
        scheduler = Scheduler(
            EverywhereManager(spec),
            Everywhere(),
            self.driver,
            config=config or Config(backoff_seconds=0.05),
            reconcile_seconds=None,
        )
        super().__init__(scheduler, create_app)

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/state")
        return result

    def running_by_agent(self) -> dict[str, str]:
        """agent id -> its copy, for copies the API shows RUNNING."""
        state = self.state()
        running = set(state["tasks_by_state"].get("TASK_RUNNING", []))
        return {a["id"]: a["task_id"] for a in state["agents"] if a["task_id"] in running}

    def master_running_by_agent(self) -> dict[str, str]:
        tasks = [t for f in self.master.state()["frameworks"] for t in f["tasks"]]
        return {t["slave_id"]: t["id"] for t in tasks if t["state"] == "TASK_RUNNING"}

    def agents(self) -> list[str]:
        return sorted(a["id"] for a in self.master.state()["slaves"] if a["active"])

    def settled(self) -> bool:
        expected = set(self.agents()) - set(self.state()["blacklist"])
        ours = self.running_by_agent()
        return set(ours) == expected and ours == self.master_running_by_agent()


def three_agents(**changes: Any) -> Any:
    return fast_config(agents=(AgentShape(count=3, cpus=2, mem=1024),), **changes)


def sim(cluster: Cluster) -> Master:
    return Master("sim", cluster.url, cluster)


@pytest.fixture(scope="module")
def real_mesos() -> Iterator[str]:
    """``ARK_TEST_MASTER``, or a real master with three agents started here."""
    if TEST_MASTER:
        yield TEST_MASTER
        return
    if not (MESOS_DIST / "start-mesos.sh").exists():
        pytest.skip(f"no real Mesos here: {MESOS_DIST}/start-mesos.sh is absent")
    mesos = RealMesos(agents=3)
    try:
        yield mesos.address
    finally:
        mesos.stop()


@pytest.fixture(params=["sim", "mesos"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The example on the simulator, then on a real Mesos (its frameworks torn down)."""
    if request.param == "sim":
        with Cluster(three_agents()) as cluster, Stack(sim(cluster)) as s:
            wait_until(s.settled, 20, "a copy on every agent")
            yield s
        return
    master = Master("mesos", _leader_url(request.getfixturevalue("real_mesos")))
    master.teardown_frameworks()
    try:
        with Stack(master) as s:
            wait_until(s.settled, 30, "a copy on every agent")
            yield s
    finally:
        master.teardown_frameworks()


def test_a_copy_on_every_agent_matches_the_masters_state(stack: Stack) -> None:
    state = stack.state()
    assert state["registered"] is True
    assert state["framework_id"] == stack.master.state()["frameworks"][0]["id"]
    assert stack.running_by_agent() == stack.master_running_by_agent()
    assert len(stack.running_by_agent()) == len(stack.agents()) > 0


def test_blacklist_over_http(stack: Stack) -> None:
    agent = stack.agents()[0]
    copy = stack.running_by_agent()[agent]
    assert stack.http.put(f"/blacklist/{agent}").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert stack.http.put(f"/blacklist/{agent}", headers=wrong).status_code == 403
    assert stack.http.put("/blacklist/%20bad", headers=AUTH).status_code == 400
    response = stack.http.put(f"/blacklist/{agent}", headers=AUTH)
    assert response.json() == {"agent_id": agent, "blacklisted": True, "changed": True}
    assert stack.http.get("/blacklist").json() == {"agents": [agent]}
    wait_until(lambda: agent not in stack.master_running_by_agent(), 10, "copy killed")
    wait_until(stack.settled, 10, "settled without the agent")
    killed = [t for f in stack.master.state()["frameworks"] for t in f["completed_tasks"]]
    assert [(t["id"], t["state"]) for t in killed] == [(copy, "TASK_KILLED")]
    response = stack.http.delete(f"/blacklist/{agent}", headers=AUTH)
    assert response.json() == {"agent_id": agent, "blacklisted": False, "changed": True}
    wait_until(lambda: agent in stack.running_by_agent(), 10, "copy back")
    assert stack.running_by_agent()[agent] != copy
    wait_until(stack.settled, 10, "settled")


def test_bodies_are_refused_and_requests_capped(stack: Stack) -> None:
    agent = stack.agents()[0]
    megabyte = b"x" * 1_000_000
    for method, path in [
        ("PUT", f"/blacklist/{agent}"),
        ("DELETE", f"/blacklist/{agent}"),
        ("GET", "/blacklist"),
        ("GET", "/state"),
        ("GET", "/metrics"),
        ("GET", "/deployments"),
        ("DELETE", "/deployments"),
    ]:
        for body in (megabyte, b"{}"):
            response = stack.http.request(method, path, headers=AUTH, content=body)
            assert response.status_code == 413, (method, path, response.text)
            assert response.json()["detail"] == "this endpoint takes no request body"
    # A chunked body announces no length at all.
    chunked = stack.http.put(f"/blacklist/{agent}", headers=AUTH, content=iter([b"x"] * 3))
    assert chunked.status_code == 413
    assert stack.http.get("/blacklist").json() == {"agents": []}
    assert stack.http.put(f"/blacklist/{agent}", headers=AUTH, content=b"").status_code == 200
    # h11 counts what it holds before a request is whole, which asyncio reads 256 KiB at a
    # time: a larger head is refused; a smaller one arriving in one read may pass.
    big = {"X-Padding": "x" * (64 * MAX_HEAD_BYTES)}
    try:
        refused = stack.http.get("/health", headers=big).status_code
    except httpx.RemoteProtocolError:
        refused = 0  # uvicorn may drop the connection instead of answering
    assert refused in (0, 400, 431)
    assert stack.http.get("/health").status_code == 200


def test_agents_leave_and_come_back(stack: Stack) -> None:
    cluster = stack.master.require_sim("kill and restart an agent")
    agent = stack.agents()[1]
    cluster.kill_agent(agent)
    wait_until(lambda: agent not in stack.running_by_agent(), 20, "copy gone with its agent")
    cluster.restart_agent(agent)
    wait_until(lambda: agent in stack.running_by_agent(), 20, "copy on the returning agent")
    wait_until(stack.settled, 20, "settled")


def test_tasks_that_fail_come_back_with_backoff() -> None:
    failing = TaskBehaviour(
        staging_seconds=0.01, starting_seconds=0.01, run_seconds=0.1, failure_rate=1.0
    )
    with Cluster(three_agents(tasks=failing)) as cluster, Stack(sim(cluster)) as stack:
        agents = wait_until(lambda: stack.state()["agents"], 20, "agents")

        def failed() -> list[str]:
            found: list[str] = stack.state()["tasks_by_state"].get("TASK_FAILED", [])
            return found

        wait_until(lambda: len(failed()) >= 3 * len(agents), 30, "three failures per agent")
        assert len(set(failed())) == len(failed())
        # The core's launch backoff of the copies' group has grown past its
        # first delay (the Stack's 0.05 s), by 1.15 at each failure in a row.
        backoff = wait_until(lambda: stack.state()["backoff"], 10, "a backoff")
        assert backoff["delay"] > 0.05, stack.state()


def test_master_failover_keeps_one_copy_per_agent(zookeeper: str) -> None:
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    config = three_agents(masters=3, zk_hosts=zookeeper, zk_path=path)
    with Cluster(config) as cluster, Stack(sim(cluster), f"zk://{zookeeper}{path}") as stack:
        wait_until(stack.settled, 20, "a copy on every agent")
        framework_id = stack.state()["framework_id"]
        before = stack.running_by_agent()
        cluster.failover_master()
        wait_until(lambda: cluster.recovered, 30, "agents re-registered")
        wait_until(stack.settled, 30, "settled after the failover")
        assert stack.state()["framework_id"] == framework_id
        assert stack.running_by_agent() == before


def test_metrics_and_schema_are_served(stack: Stack) -> None:
    metrics = stack.http.get("/metrics")
    assert metrics.status_code == 200
    assert "ark_messages_total" in metrics.text
    schema = stack.http.get("/schema/openapi.json").json()
    assert {"/state", "/blacklist", "/blacklist/{agent_id}", "/deployments"} <= set(schema["paths"])


def test_no_generated_request_gets_a_server_error(stack: Stack) -> None:
    """schemathesis on the served OpenAPI: every operation, bounded examples, no 5xx."""
    api = schemathesis.openapi.from_url(f"{stack.url}/schema/openapi.json")
    for result in api.get_all_operations():
        operation = result.ok()

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), **AUTH}
            case.call_and_validate(checks=[not_a_server_error])

        check()
