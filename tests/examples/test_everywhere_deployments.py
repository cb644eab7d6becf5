"""The example's rolling updates over HTTP, end to end on the simulator.

``POST /deployments`` rolls a new command out through the core's ``Deploy``,
``GET /deployments`` shows its progress, ``DELETE /deployments`` cancels it.
A deployment that completes leaves every agent running the new command and
never had fewer copies ready than the floor (all agents but one); one whose
command fails (``exit 1``: the simulator ends it at once, FAILED, as an agent
would) is rolled back; a cancelled one brings the old command back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_everywhere_api import AUTH, Stack, sim, three_agents

from ark.sim import Cluster, TaskBehaviour
from waiting import wait_until

OLD = "sleep 3600"


class Deploying:
    """The example on a three-agent simulator, every agent running its first copy."""

    def __init__(self, stack: Stack, cluster: Cluster) -> None:
        self.stack, self.cluster, self.http = stack, cluster, stack.http

    def deployment(self) -> dict[str, Any]:
        response = self.http.get("/deployments")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def ended(self, state: str) -> dict[str, Any] | None:
        found = self.deployment()
        record = found["deployment"]
        return found if record is not None and record["state"] == state else None

    def running_commands(self) -> dict[str, list[str]]:
        """agent id -> the commands of the framework's copies RUNNING there, on the agents."""

        def read() -> dict[str, list[str]]:
            return {
                agent_id: sorted(
                    t.info["command"]["value"]
                    for t in agent.tasks.values()
                    if t.state == "TASK_RUNNING"
                )
                for agent_id, agent in self.cluster.agents.items()
            }

        return self.cluster.run(read)

    def everywhere(self, command: str) -> bool:
        """Every agent runs exactly one copy, of ``command``, and the API agrees."""
        return all(c == [command] for c in self.running_commands().values()) and (
            self.stack.settled()
        )


def deploying(tasks: TaskBehaviour | None = None) -> Iterator[Deploying]:
    changes: dict[str, Any] = {} if tasks is None else {"tasks": tasks}
    with Cluster(three_agents(**changes)) as cluster, Stack(sim(cluster)) as stack:
        d = Deploying(stack, cluster)
        wait_until(lambda: d.everywhere(OLD), 20, "a copy on every agent")
        yield d


@pytest.fixture
def example() -> Iterator[Deploying]:
    yield from deploying()


@pytest.fixture
def slow_example() -> Iterator[Deploying]:
    """Copies take a second to start: a deployment lasts long enough to cancel it."""
    yield from deploying(TaskBehaviour(staging_seconds=1.0, starting_seconds=0.01))


def test_a_deployment_changes_every_copys_command_one_agent_at_a_time(
    example: Deploying,
) -> None:
    before = example.deployment()
    assert before["version"] == "everywhere-v0" and before["command"] == OLD
    assert before["deploying"] is False
    response = example.http.post("/deployments", json={"command": "sleep 7200"}, headers=AUTH)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["version"] == "everywhere-v1" and started["previous"]["command"] == OLD
    floor = len(example.stack.agents()) - 1
    samples = 0

    def completed() -> dict[str, Any] | None:
        nonlocal samples
        found = example.deployment()
        record = found["deployment"]
        if record is not None and record["version"] == "everywhere-v1":
            samples += 1
            ready = record["new"]["ready"] + record["old"]["ready"] + record["other"]["ready"]
            assert ready >= floor, found
            assert record["new"]["up"] + record["old"]["up"] <= floor + 1, found
            if record["state"] == "completed":
                return found
        # On the agents too: never fewer running than the floor.
        assert sum(map(len, example.running_commands().values())) >= floor
        return None

    done = wait_until(completed, 30, "the deployment completed")
    assert samples > 1
    assert done["version"] == "everywhere-v1" and done["command"] == "sleep 7200"
    assert done["deploying"] is False
    assert done["deployment"]["failures"] == 0
    assert done["deployment"]["new"] == {"up": 3, "ready": 3}
    assert done["deployment"]["old"] == {"up": 0, "ready": 0}
    wait_until(lambda: example.everywhere("sleep 7200"), 20, "the new command everywhere")
    assert all(t.startswith("everywhere-v1-") for t in example.stack.running_by_agent().values())
    # Settled: the blacklist works again, and the agent's new copy is of the new version.
    agent = example.stack.agents()[0]
    assert example.http.put(f"/blacklist/{agent}", headers=AUTH).status_code == 200
    wait_until(lambda: agent not in example.stack.running_by_agent(), 10, "copy killed")
    assert example.http.delete(f"/blacklist/{agent}", headers=AUTH).status_code == 200
    wait_until(lambda: example.everywhere("sleep 7200"), 20, "the new command back on it")


def test_a_failing_command_is_rolled_back(example: Deploying) -> None:
    response = example.http.post("/deployments", json={"command": "exit 1"}, headers=AUTH)
    assert response.status_code == 202, response.text
    done = wait_until(lambda: example.ended("rolled-back"), 30, "the deployment rolled back")
    assert done["version"] == "everywhere-v0" and done["command"] == OLD
    assert done["deploying"] is False
    record = done["deployment"]
    assert record["version"] == "everywhere-v1" and record["previous"] == "everywhere-v0"
    assert record["failures"] == 3  # max_failures: Deploy's default
    assert record["new"] == {"up": 0, "ready": 0} and record["old"] == {"up": 3, "ready": 3}
    wait_until(lambda: example.everywhere(OLD), 20, "the old command everywhere")
    failed = example.stack.state()["tasks_by_state"]["TASK_FAILED"]
    # (A copy launched before the third failure was seen fails too, uncounted.)
    assert len(failed) >= 3 and all(t.startswith("everywhere-v1-") for t in failed)
    # A new deployment after it starts from the version it kept.
    response = example.http.post("/deployments", json={"command": "sleep 60"}, headers=AUTH)
    assert response.status_code == 202 and response.json()["version"] == "everywhere-v2"
    wait_until(lambda: example.ended("completed"), 30, "v2 deployed")
    wait_until(lambda: example.everywhere("sleep 60"), 20, "v2 everywhere")


def test_a_cancelled_deployment_brings_the_old_command_back(slow_example: Deploying) -> None:
    example = slow_example
    response = example.http.post("/deployments", json={"command": "sleep 7200"}, headers=AUTH)
    assert response.status_code == 202, response.text
    assert example.deployment()["deployment"]["state"] == "running"
    # The blacklist is frozen while it runs, and a second deployment waits.
    agent = example.stack.agents()[0]
    conflict = example.http.put(f"/blacklist/{agent}", headers=AUTH)
    assert conflict.status_code == 409, conflict.text
    assert "deployment" in conflict.json()["detail"]
    again = example.http.post("/deployments", json={"command": "sleep 1"}, headers=AUTH)
    assert again.status_code == 409
    assert example.http.delete("/deployments").status_code == 401
    response = example.http.delete("/deployments", headers=AUTH)
    assert response.status_code == 202, response.text
    assert example.deployment()["deployment"]["state"] in ("rolling-back", "rolled-back")
    done = wait_until(lambda: example.ended("rolled-back"), 30, "rolled back")
    assert done["version"] == "everywhere-v0" and done["command"] == OLD
    wait_until(lambda: example.everywhere(OLD), 30, "the old command everywhere")
    # Nothing left to cancel.
    assert example.http.delete("/deployments", headers=AUTH).status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"command": ""}', 400),
        (b'{"command": "   "}', 400),
        (b'{"command": "a\\u0000b"}', 400),
        (b'{"command": 3}', 400),
        (b'{"cmd": "sleep 1"}', 400),
        (b'{"command": "sleep 1", "extra": 1}', 400),
        (b"not json", 400),
        (b"[]", 400),
        (b'{"command": "' + b"x" * 5000 + b'"}', 400),
        (b'{"command": "' + b"x" * 9000 + b'"}', 413),
    ],
)
def test_bad_deployments_are_refused_and_change_nothing(
    example: Deploying, body: bytes, status: int
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    response = example.http.post("/deployments", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert example.deployment()["deploying"] is False
    assert example.deployment()["version"] == "everywhere-v0"
    assert example.http.get("/health").status_code == 200
