"""The stateful example end to end over the simulator: master, scheduler, native driver
and REST API, all over sockets. The simulator keeps what the replicas write in their
volumes (``Cluster.volume``): each replica's marker and its count of starts.
"""

from __future__ import annotations

import time
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
from ark.examples.stateful.api import create_app
from ark.examples.stateful.framework import ServiceSpec, Stateful, StatefulManager
from ark.sim import AgentShape, Cluster
from sim.sim_client import fast_config
from waiting import wait_until

ROLE = "db"


class Stack(Served[Stateful]):
    """The stateful example on a master (``address``), its API served by uvicorn."""

    def __init__(self, address: str, replicas: int = 3) -> None:
        framework = {"name": "stateful", "user": "test", "role": ROLE, "principal": "ark"}
        scheduler = Scheduler(
            StatefulManager(ServiceSpec(role=ROLE, principal="ark")),
            Stateful(count=replicas),
            V1Driver(address, framework),
            config=Config(backoff_seconds=0.05),
            reconcile_seconds=None,
        )
        super().__init__(scheduler, create_app)

    def replicas(self) -> dict[int, dict[str, Any]]:
        return {r["index"]: r for r in self.get("/state")["replicas"]}

    def running(self, count: int) -> dict[int, dict[str, Any]] | None:
        """The replicas, once exactly ``count`` run (each on its volume's agent)."""
        replicas = self.replicas()
        up = {
            i: r
            for i, r in replicas.items()
            if r["state"] == "TASK_RUNNING" and r["agent_id"] == r["volume"]["agent_id"]
        }
        live = self.get("/state")["tasks_by_state"].get("TASK_RUNNING", [])
        return up if len(up) == len(replicas) == len(live) == count else None

    def volumes(self) -> dict[str, str]:
        """persistence id -> agent, from /reservations."""
        return {
            v["persistence_id"]: a["agent_id"]
            for a in self.get("/reservations")["agents"]
            for v in a["volumes"]
        }

    def scale(self, count: int) -> httpx.Response:
        return self.http.put("/replicas", headers=AUTH, json={"count": count})


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(fast_config(agents=(AgentShape(count=5, cpus=2, mem=1024),))) as c:
        yield c


@pytest.fixture
def stack(cluster: Cluster) -> Iterator[Stack]:
    with Stack(cluster.url) as s:
        wait_until(lambda: s.running(3), 30, "three replicas running")
        yield s


def test_three_replicas_each_on_its_own_volume(stack: Stack, cluster: Cluster) -> None:
    replicas = stack.running(3)
    assert replicas is not None
    agents = {i: r["agent_id"] for i, r in replicas.items()}
    assert len(set(agents.values())) == 3  # hostname UNIQUE
    assert {r["task_id"] for r in replicas.values()} == {"db-0", "db-1", "db-2"}
    assert all(r["restarts"] == 0 for r in replicas.values())
    assert stack.volumes() == {f"db-{i}-data": a for i, a in agents.items()}
    for i, agent in agents.items():
        assert cluster.volume(agent, f"db-{i}-data") == {"marker": f"db-{i}", "starts": "1"}
    # Each agent: 64 MB of disk reserved for the role, one volume in use by its replica.
    for entry in stack.get("/reservations")["agents"]:
        assert entry["reserved"] == {ROLE: {"disk": 64.0}}
        [volume] = entry["volumes"]
        assert volume["task_id"] == f"db-{volume['persistence_id'].split('-')[1]}"
        assert (volume["size_mb"], volume["container_path"]) == (64.0, "data")


def test_a_failed_replica_restarts_on_its_volume_with_its_data(
    stack: Stack, cluster: Cluster
) -> None:
    before = stack.running(3)
    assert before is not None
    agent = before[1]["agent_id"]
    cluster.write_volume(agent, "db-1-data", "rows", "42")
    cluster.fail_task("db-1")

    def restarted() -> dict[int, dict[str, Any]] | None:
        up = stack.running(3)
        return up if up and up[1]["task_id"] != "db-1" else None

    after = wait_until(restarted, 30, "db-1 restarted")
    assert after[1]["task_id"] == "db-1.1"
    assert after[1]["agent_id"] == agent
    assert after[1]["restarts"] == 1
    # The same volume, its data intact, and the replica's second start counted in it.
    assert cluster.volume(agent, "db-1-data") == {"marker": "db-1", "rows": "42", "starts": "2"}
    assert stack.volumes()["db-1-data"] == agent
    failed = stack.get("/state")["tasks_by_state"]["TASK_FAILED"]
    assert failed == ["db-1"]


def test_scale_up_to_4_then_down_to_2_keeps_the_volumes(stack: Stack, cluster: Cluster) -> None:
    response = stack.scale(4)
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 4, "changed": True}
    four = wait_until(lambda: stack.running(4), 30, "four replicas")
    agents = {i: r["agent_id"] for i, r in four.items()}
    assert len(set(agents.values())) == 4
    assert cluster.volume(agents[3], "db-3-data") == {"marker": "db-3", "starts": "1"}

    assert stack.scale(2).json() == {"count": 2, "changed": True}
    two = wait_until(lambda: stack.running(2), 30, "two replicas")
    assert set(two) == {0, 1}
    state = stack.get("/state")
    assert sorted(state["tasks_by_state"]["TASK_KILLED"]) == ["db-2", "db-3"]
    # The core restarts what was killed; the example withdrew those restarts.
    assert stack.scheduler.snapshot().pending() == {}
    # The volumes of the stopped replicas are kept, reserved, and used by nobody.
    reservations = {a["agent_id"]: a for a in stack.get("/reservations")["agents"]}
    assert stack.volumes() == {f"db-{i}-data": a for i, a in agents.items()}
    for i in (2, 3):
        [volume] = reservations[agents[i]]["volumes"]
        assert volume["task_id"] is None
        assert reservations[agents[i]]["reserved"] == {ROLE: {"disk": 64.0}}

    # Scaling up again brings replica 2 back on its agent, to its data.
    cluster.write_volume(agents[2], "db-2-data", "rows", "7")
    assert stack.scale(3).json() == {"count": 3, "changed": True}
    three = wait_until(lambda: stack.running(3), 30, "three replicas again")
    assert three[2]["agent_id"] == agents[2]
    assert three[2]["task_id"] == "db-2-g1"
    assert cluster.volume(agents[2], "db-2-data") == {"marker": "db-2", "rows": "7", "starts": "2"}
    assert stack.scale(3).json() == {"count": 3, "changed": False}

    # A new replica stays off the agents that hold another replica's volume (here
    # db-3's, kept): its host must be free when db-3 comes back to its data.
    assert stack.scale(5).json() == {"count": 5, "changed": True}
    five = wait_until(lambda: stack.running(5), 30, "five replicas")
    assert five[3]["agent_id"] == agents[3]
    assert five[4]["agent_id"] not in agents.values()


@pytest.mark.parametrize("counts", [(1, 3), (1, 3, 2, 4), (0, 2), (4, 0, 4)])
def test_scaling_without_waiting_settles_on_the_last_count(
    stack: Stack, cluster: Cluster, counts: tuple[int, ...]
) -> None:
    """Scale requests one after another, while kills and restarts are in flight: each
    replica ends up once, on its own volume (the first three where they started)."""
    first = stack.running(3)
    assert first is not None
    for count in counts:
        assert stack.scale(count).status_code == 200
    last = counts[-1]

    def steady() -> dict[int, dict[str, Any]] | None:
        """``last`` replicas running, the same for half a second (no kill in flight)."""
        up = stack.running(last)
        if up is None or stack.scheduler.snapshot().pending():
            return None
        time.sleep(0.5)
        return up if stack.running(last) == up else None

    final = wait_until(steady, 30, f"{last} replicas, steady")
    assert set(final) == set(range(last))
    for i, replica in final.items():
        if i in first:
            assert replica["agent_id"] == first[i]["agent_id"]
        assert cluster.volume(replica["agent_id"], f"db-{i}-data")["marker"] == f"db-{i}"
    # Mesos runs exactly those.
    tasks = [t for f in cluster.state()["frameworks"] for t in f["tasks"]]
    running = sorted(t["id"] for t in tasks if t["state"] == "TASK_RUNNING")
    assert running == sorted(r["task_id"] for r in final.values())


def test_replace_gives_the_volume_up_and_places_the_replica_afresh(
    stack: Stack, cluster: Cluster
) -> None:
    before = stack.running(3)
    assert before is not None
    agent = before[0]["agent_id"]
    cluster.write_volume(agent, "db-0-data", "rows", "42")
    assert stack.http.post("/replicas/0/replace").status_code == 401
    response = stack.http.post("/replicas/0/replace", headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json() == {"index": 0, "task_id": "db-0"}

    def replaced() -> dict[int, dict[str, Any]] | None:
        up = stack.running(3)
        return up if up and up[0]["task_id"] != "db-0" else None

    after = wait_until(replaced, 30, "db-0 replaced")
    moved = after[0]["agent_id"]
    # A new volume under the same persistence id: empty, then the replica's first start.
    assert cluster.volume(moved, "db-0-data") == {"marker": "db-0", "starts": "1"}
    assert stack.volumes()["db-0-data"] == moved
    if moved != agent:  # The old agent holds nothing of ours any more.
        assert agent not in {a["agent_id"] for a in stack.get("/reservations")["agents"]}
    assert stack.get("/state")["tasks_by_state"]["TASK_KILLED"] == ["db-0"]


def test_bad_requests_get_a_clear_4xx_and_the_loop_goes_on(stack: Stack) -> None:
    wrong = {"Authorization": "Bearer nope"}
    cases: list[tuple[str, str, dict[str, str], Any, int, str]] = [
        ("PUT", "/replicas", {}, {"count": 2}, 401, "a bearer token is required"),
        ("PUT", "/replicas", wrong, {"count": 2}, 403, "wrong token"),
        ("PUT", "/replicas", AUTH, {"count": -1}, 400, "count must be between 0 and 20"),
        ("PUT", "/replicas", AUTH, {"count": 21}, 400, "count must be between 0 and 20"),
        ("PUT", "/replicas", AUTH, {"count": "three"}, 400, "Validation failed for PUT /replicas"),
        ("PUT", "/replicas", AUTH, {"n": 3}, 400, "Validation failed for PUT /replicas"),
        ("PUT", "/replicas", AUTH, {"count": 2.5}, 400, "Validation failed for PUT /replicas"),
        ("PUT", "/replicas", AUTH, [3], 400, "Validation failed for PUT /replicas"),
        ("POST", "/replicas/7/replace", AUTH, None, 404, "no replica 7"),
        ("POST", "/replicas/x/replace", AUTH, None, 400, "not a replica index: 'x'"),
        ("POST", "/replicas/-1/replace", AUTH, None, 400, "not a replica index: '-1'"),
        ("POST", "/replicas/1/replace", AUTH, {"a": 1}, 413, "this endpoint takes no request body"),
        ("GET", "/state", {}, {"a": 1}, 413, "this endpoint takes no request body"),
    ]
    for method, path, headers, body, status, detail in cases:
        response = stack.http.request(method, path, headers=headers, json=body)
        assert response.status_code == status, (method, path, body, response.text)
        assert response.json()["detail"] == detail, (method, path, body, response.text)
    malformed = stack.http.put("/replicas", headers=AUTH, content=b"{count: 2")
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("JSON is malformed")
    huge = stack.http.put("/replicas", headers=AUTH, content=b" " * 10_000)
    assert huge.status_code == 413
    # Nothing changed, and the loop still answers.
    assert stack.running(3) is not None
    assert stack.get("/health") == {"ok": True}
    metrics = stack.http.get("/metrics")
    assert metrics.status_code == 200
    assert "ark_messages_total" in metrics.text


# schemathesis's body strategies draw from `random` now and then (a Hypothesis deprecation).
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
def test_no_generated_request_gets_a_server_error(stack: Stack) -> None:
    """schemathesis on the served OpenAPI: every operation, bounded examples, no 5xx."""
    schema = stack.get("/schema/openapi.json")
    assert {"/state", "/reservations", "/replicas", "/replicas/{index}/replace"} <= set(
        schema["paths"]
    )
    api = schemathesis.openapi.from_url(f"{stack.url}/schema/openapi.json")
    for result in api.get_all_operations():
        operation = result.ok()

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), **AUTH}
            case.call_and_validate(checks=[not_a_server_error])

        check()
    assert stack.get("/health") == {"ok": True}
