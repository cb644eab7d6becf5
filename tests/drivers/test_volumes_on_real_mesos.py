"""A persistent volume on a real Apache Mesos: reserve, create and launch in
one ACCEPT, kill the task, see the volume offered again, relaunch there
("restart", as the SDK and Marathon's resident tasks do) and find the data
the first task wrote. In both encodings of the native driver.

Skipped, with the reason, where no real Mesos can be started.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator, Sequence

import msgspec
import pytest

from ark import Scheduler, StateManager, Step, V1Driver
from ark import messages as m
from ark.core import Snapshot
from ark.wire import task_payload
from sim.masters import MESOS_DIST, TEST_MASTER, Master, RealMesos, _leader_url
from waiting import wait_until

pytestmark = pytest.mark.skipif(
    not ((MESOS_DIST / "start-mesos.sh").exists() or TEST_MASTER),
    reason=f"no real Mesos here: {MESOS_DIST}/start-mesos.sh is absent",
)

ROLE = "db"
PRINCIPAL = "ark-test"
SIZE = 64.0
RESERVED = [m.Reservation(ROLE, principal=PRINCIPAL)]
# The first task leaves a marker in its volume; the second runs only if it is there.
WRITE = task_payload("echo written > data/marker && sleep 3600")
READ = task_payload("test -f data/marker && sleep 3600")


def volume(persistence_id: str) -> m.Resource:
    return m.Resource(
        "disk",
        scalar=SIZE,
        role=ROLE,
        reservations=RESERVED,
        persistence_id=persistence_id,
        container_path="data",
    )


def plain() -> list[m.Resource]:
    return [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)]


class Stage(msgspec.Struct, frozen=True):
    volume: str
    launched: tuple[str, ...] = ()
    #: The agent the volume was created on.
    agent_id: str | None = None
    states: tuple[tuple[str, str], ...] = ()
    #: Give the volume and its reservation back at the next offer of them.
    release: bool = False
    released: bool = False


class OneVolume(StateManager[Stage]):
    """Creates one volume with its first task, relaunches on it once the
    first task ended, and gives it all back when told to."""

    def offers(self, state: Stage, offers: Sequence[m.Offer], framework: Snapshot) -> Step[Stage]:
        commands: list[m.Message] = []
        for offer in offers:
            has = {(r.name, r.persistence_id) for r in offer.resources}
            free = sum(
                r.scalar or 0.0 for r in offer.resources if r.name == "disk" and not r.reservations
            )
            mine = ("disk", state.volume) in has
            if not state.launched and free >= SIZE:
                reserve = m.Resource("disk", scalar=SIZE, role=ROLE, reservations=RESERVED)
                ops = [
                    m.Operation("RESERVE", [reserve]),
                    m.Operation("CREATE", [volume(state.volume)]),
                ]
                launch = m.Launch(
                    "first", resources=[*plain(), volume(state.volume)], payload=WRITE
                )
                commands.append(m.Accept([offer.id], [launch], operations=ops))
                state = msgspec.structs.replace(state, launched=("first",), agent_id=offer.agent_id)
            elif mine and state.launched == ("first",):
                launch = m.Launch(
                    "second", resources=[*plain(), volume(state.volume)], payload=READ
                )
                commands.append(m.Accept([offer.id], [launch]))
                state = msgspec.structs.replace(state, launched=("first", "second"))
            elif mine and state.release and not state.released:
                reserved = m.Resource("disk", scalar=SIZE, role=ROLE, reservations=RESERVED)
                ops = [
                    m.Operation("DESTROY", [volume(state.volume)]),
                    m.Operation("UNRESERVE", [reserved]),
                ]
                commands.append(m.Accept([offer.id], [], operations=ops))
                state = msgspec.structs.replace(state, released=True)
            else:
                commands.append(m.Decline([offer.id], refuse_seconds=0.5))
        return state, commands

    def status_update(self, state: Stage, status: m.TaskStatus, framework: Snapshot) -> Step[Stage]:
        states = (*state.states, (status.task_id, status.state))
        return msgspec.structs.replace(state, states=states), ()


class Release(m.Custom, frozen=True):
    pass


class OneVolumeReleasing(OneVolume):
    def custom(self, state: Stage, message: m.Custom, framework: Snapshot) -> Step[Stage]:
        return msgspec.structs.replace(state, release=True), ()


@pytest.fixture(scope="module")
def real() -> Iterator[str]:
    if TEST_MASTER:
        yield TEST_MASTER
        return
    mesos = RealMesos()
    try:
        yield mesos.address
    finally:
        mesos.stop()


@pytest.fixture
def master(real: str) -> Iterator[Master]:
    master = Master("mesos", _leader_url(real))
    master.teardown_frameworks()
    try:
        yield master
    finally:
        master.teardown_frameworks()


def reserved_on(master: Master, agent_id: str | None) -> list[dict[str, object]]:
    """What Mesos holds reserved for ``ROLE`` on an agent (``/master/slaves``)."""
    with urllib.request.urlopen(f"{master.url}/master/slaves", timeout=10) as response:
        agents = json.load(response)["slaves"]
    [agent] = [a for a in agents if a["id"] == agent_id]
    return list(agent.get("reserved_resources_full", {}).get(ROLE, []))


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_a_task_restarts_on_its_volume_after_it_was_killed(master: Master, encoding: str) -> None:
    name = f"ark-volume-{encoding}"
    info = {"name": name, "user": "test", "role": ROLE, "principal": PRINCIPAL}
    driver = V1Driver(master.url, info, encoding=encoding)  # type: ignore[arg-type]
    with Scheduler(OneVolumeReleasing(), Stage(name), driver, reconcile_seconds=None) as scheduler:
        wait_until(lambda: ("first", "TASK_RUNNING") in scheduler.state.states, 60, "first task")
        agent_id = scheduler.state.agent_id
        view = scheduler.snapshot().view()
        [record] = [v for v in view.volumes if v.persistence_id == name]
        assert (record.agent_id, record.size, record.container_path) == (agent_id, SIZE, "data")
        assert (agent_id, "disk", ROLE, SIZE) in view.reserved
        scheduler.push(m.Kill("first"))
        wait_until(lambda: ("second", "TASK_RUNNING") in scheduler.state.states, 60, "second task")
        assert ("first", "TASK_KILLED") in scheduler.state.states
        tasks = {t.task_id: t for t in scheduler.snapshot().view().tasks}
        assert tasks["second"].agent_id == tasks["first"].agent_id == agent_id
        # Mesos's own view: the volume is on that agent, reserved for the role.
        assert any(
            r.get("disk", {}).get("persistence", {}).get("id") == name  # type: ignore[union-attr]
            for r in reserved_on(master, agent_id)
        )
        # Give it all back: DESTROY and UNRESERVE once the volume is offered.
        scheduler.push(Release())
        scheduler.push(m.Kill("second"))
        wait_until(lambda: scheduler.state.released, 60, "volume released")
        wait_until(lambda: not reserved_on(master, agent_id), 30, "nothing reserved")
        view = scheduler.snapshot().view()
        assert name not in [v.persistence_id for v in view.volumes]
        assert not [r for r in view.reserved if r[0] == agent_id]
