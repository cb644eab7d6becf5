"""The stateful example on a real Apache Mesos: the core's matcher plans RESERVE, CREATE
and LAUNCH in one ACCEPT for each of three replicas, a replica killed is relaunched on
its agent and finds its volume, and what the replicas' shell commands wrote is read back
from the agents' work directories (``<work_dir>/volumes/roles/<role>/<persistence id>``).

Skipped, with the reason, where no real Mesos can be started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_stateful_api import AUTH, ROLE, Stack

from ark import messages as m
from sim.masters import MESOS_DIST, Master, RealMesos, _leader_url
from waiting import wait_until

pytestmark = pytest.mark.skipif(
    not (MESOS_DIST / "start-mesos.sh").exists(),
    reason=f"no real Mesos here: {MESOS_DIST}/start-mesos.sh is absent",
)


@pytest.fixture(scope="module")
def mesos() -> Iterator[RealMesos]:
    """A real master and three agents started here (their work dirs are read)."""
    real = RealMesos(agents=3)
    try:
        yield real
    finally:
        real.stop()


def volume_file(mesos: RealMesos, hostname: str, persistence_id: str, name: str) -> str | None:
    """A file a replica wrote into its volume, as the agent keeps it (its work dir is
    ``<dir>/<hostname>``, agents being named ``agent1``, ``agent2``, ...)."""
    path = Path(mesos.dir, hostname, "volumes", "roles", ROLE, persistence_id, name)
    return path.read_text().strip() if path.exists() else None


def test_three_replicas_on_real_mesos_and_a_kill_restarts_on_the_volume(mesos: RealMesos) -> None:
    master = Master("mesos", _leader_url(mesos.address))
    master.teardown_frameworks()
    try:
        with Stack(mesos.address) as stack:
            replicas = wait_until(lambda: stack.running(3), 90, "three replicas running")
            reservations = {a["agent_id"]: a for a in stack.get("/reservations")["agents"]}
            hosts = {i: reservations[r["agent_id"]]["hostname"] for i, r in replicas.items()}
            assert len(set(hosts.values())) == 3
            for i, host in hosts.items():
                assert reservations[replicas[i]["agent_id"]]["reserved"] == {ROLE: {"disk": 64.0}}
                wait_until(
                    lambda i=i, host=host: volume_file(mesos, host, f"db-{i}-data", "starts"),
                    30,
                    f"db-{i}'s start counted in its volume",
                )
                assert volume_file(mesos, host, f"db-{i}-data", "marker") == f"db-{i}"
                assert volume_file(mesos, host, f"db-{i}-data", "starts") == "1"
            # Mesos's own view: each agent holds the volume, reserved for the role.
            agents = {a["id"]: a for a in master.get("/master/slaves")["slaves"]}
            for i, replica in replicas.items():
                reserved: list[dict[str, Any]] = agents[replica["agent_id"]][
                    "reserved_resources_full"
                ][ROLE]
                ids = [r.get("disk", {}).get("persistence", {}).get("id") for r in reserved]
                assert f"db-{i}-data" in ids

            stack.scheduler.push(m.Kill("db-0"))

            def restarted() -> dict[int, dict[str, Any]] | None:
                up = stack.running(3)
                return up if up and up[0]["task_id"] != "db-0" else None

            after = wait_until(restarted, 90, "db-0 restarted")
            assert after[0]["task_id"] == "db-0.1"
            assert after[0]["agent_id"] == replicas[0]["agent_id"]
            wait_until(
                lambda: volume_file(mesos, hosts[0], "db-0-data", "starts") == "2",
                30,
                "db-0's second start counted in the same volume",
            )
            assert volume_file(mesos, hosts[0], "db-0-data", "marker") == "db-0"
            assert stack.get("/state")["tasks_by_state"]["TASK_KILLED"] == ["db-0"]

            # Replace db-1: the core kills it, DESTROYs its volume and UNRESERVEs
            # its disk when next offered, and places it afresh (a new, empty volume).
            # (With three agents and one replica per host, it comes back to the same agent.)
            old_volume = Path(mesos.dir, hosts[1], "volumes", "roles", ROLE, "db-1-data")
            (old_volume / "rows").write_text("42")
            response = stack.http.post("/replicas/1/replace", headers=AUTH)
            assert response.status_code == 202, response.text

            def replaced() -> dict[int, dict[str, Any]] | None:
                up = stack.running(3)
                return up if up and up[1]["task_id"] != "db-1" else None

            moved = wait_until(replaced, 90, "db-1 replaced")[1]
            host = {a["agent_id"]: a["hostname"] for a in stack.get("/reservations")["agents"]}[
                moved["agent_id"]
            ]
            wait_until(
                lambda: volume_file(mesos, host, "db-1-data", "starts") == "1",
                30,
                "db-1's first start in its new volume",
            )
            assert moved["task_id"] == "db-1.1"
            assert volume_file(mesos, host, "db-1-data", "rows") is None  # destroyed with it
            if host != hosts[1]:
                # The old agent gave the volume and its disk back to Mesos.
                slaves = {a["id"]: a for a in master.get("/master/slaves")["slaves"]}
                old = slaves[replicas[1]["agent_id"]].get("reserved_resources_full", {})
                assert not old.get(ROLE)
    finally:
        master.teardown_frameworks()
