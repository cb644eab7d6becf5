"""Reservations and persistent volumes, on both masters: RESERVE, CREATE,
DESTROY and UNRESERVE in ACCEPT, their validation, the offers and
``/master/state`` that show them, and operation feedback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from masters import Master
from sim_client import Subscriber
from stateful_client import (
    FRAMEWORK_INFO,
    ROLE,
    accept,
    has_volume,
    launch,
    operation,
    release_all,
    reserved,
    reserved_in,
    scalar,
    subscribe,
    volume,
    wait_operation,
    wait_task,
)

from waiting import wait_until


@pytest.fixture
def stateful(master: Master) -> Iterator[Master]:
    """The master, whose real agents are given back every reservation afterwards."""
    yield master
    if not master.is_sim:
        master.teardown_frameworks()
        release_all(master)


def _reserve_and_create(sub: Subscriber, persistence_id: str, **launch_extra: object) -> dict:
    """RESERVE 0.1 cpus, 32 mem and 64 disk, CREATE a volume on the disk and
    LAUNCH a task on all of it, in one ACCEPT (ids ``r-<pid>``, ``c-<pid>``)."""
    offer = sub.wait_offer()
    vol = volume(64, persistence_id)
    task_resources = [reserved("cpus", 0.1), reserved("mem", 32), vol]
    accept(
        sub,
        offer,
        operation(
            "RESERVE",
            [reserved("cpus", 0.1), reserved("mem", 32), reserved("disk", 64)],
            f"r-{persistence_id}",
        ),
        operation("CREATE", [vol], f"c-{persistence_id}"),
        launch(offer, f"t-{persistence_id}", task_resources, **launch_extra),
    )
    return offer


def test_reserve_create_launch_then_offers_and_state_show_them(stateful: Master) -> None:
    """PersistentVolumeTest.AccessPersistentVolume and
    ReservationTest.ReserveAndLaunchThenUnreserve: reserve, create and launch
    in one ACCEPT; after the task ends the reservation and the volume come
    back in offers and stay in ``/master/state`` until DESTROY and UNRESERVE give them up."""
    sub = subscribe(stateful)
    try:
        offer = _reserve_and_create(sub, "v1")
        agent_id = offer["agent_id"]["value"]
        wait_task(sub, "t-v1", "TASK_RUNNING")
        state = {a["id"]: a for a in stateful.agents()}[agent_id]
        assert state["reserved_resources"][ROLE]["disk"] == 64
        assert state["reserved_resources"][ROLE]["cpus"] == pytest.approx(0.1)
        total = state["resources"]["disk"]
        assert state["unreserved_resources"]["disk"] == total - 64
        assert wait_operation(sub, "r-v1", "OPERATION_FINISHED")["agent_id"]["value"] == agent_id
        assert "uuid" in wait_operation(sub, "c-v1", "OPERATION_FINISHED")

        code, _ = sub.call(
            {"type": "KILL", "kill": {"task_id": {"value": "t-v1"}, "agent_id": offer["agent_id"]}}
        )
        assert code == 202
        wait_task(sub, "t-v1", "TASK_KILLED")
        back = sub.wait_offer(lambda o: o["agent_id"]["value"] == agent_id and has_volume(o, "v1"))
        vol = next(r for r in back["resources"] if r.get("disk"))
        assert vol["reservations"] == [{"type": "DYNAMIC", "role": ROLE}]
        assert vol["disk"]["volume"] == {"container_path": "data", "mode": "RW"}
        assert vol["scalar"]["value"] == 64
        plain = [r for r in reserved_in(back) if not r.get("disk")]
        assert sorted(r["name"] for r in plain) == ["cpus", "mem"]

        # DESTROY then UNRESERVE everything reserved, in one ACCEPT.
        unreserve = [{k: v for k, v in r.items() if k != "disk"} for r in reserved_in(back)]
        accept(
            sub,
            back,
            operation("DESTROY", [vol], "d-v1"),
            operation("UNRESERVE", unreserve, "u-v1"),
        )
        wait_operation(sub, "u-v1", "OPERATION_FINISHED")
        wait_until(
            lambda: not {a["id"]: a for a in stateful.agents()}[agent_id]["reserved_resources"],
            what="the reservation gone from /master/state",
        )
    finally:
        sub.close()


def test_reserved_resources_are_offered_only_to_their_role(stateful: Master) -> None:
    """ReservationTest.ReserveShareWithinRole's converse: a framework of another
    role is never offered resources reserved for ``db``."""
    sub = subscribe(stateful)
    other = None
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        accept(sub, offer, operation("RESERVE", [reserved("cpus", 0.5), reserved("mem", 64)], "r"))
        wait_operation(sub, "r", "OPERATION_FINISHED")
        sub.wait_offer(lambda o: o["agent_id"]["value"] == agent_id and bool(reserved_in(o)))
        sub.close()  # No failover timeout: the framework and its offers go.
        other = subscribe(
            stateful,
            {
                "user": "root",
                "name": "other",
                "roles": ["web"],
                "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}],
            },
        )
        seen = other.wait_offer(lambda o: o["agent_id"]["value"] == agent_id)
        assert not reserved_in(seen)
        cpus = sum(r["scalar"]["value"] for r in seen["resources"] if r["name"] == "cpus")
        total = {a["id"]: a for a in stateful.agents()}[agent_id]["resources"]["cpus"]
        assert cpus == pytest.approx(total - 0.5)
    finally:
        sub.close()
        if other is not None:
            other.close()


def test_invalid_create_is_dropped_and_later_operations_run(stateful: Master) -> None:
    """PersistentVolumeTest: a CREATE on unreserved disk fails Mesos's
    ``validateDiskInfo``; ``Master::_accept`` drops that operation alone
    (OPERATION_ERROR, no uuid, no agent) and the LAUNCH after it runs."""
    sub = subscribe(stateful)
    try:
        offer = sub.wait_offer()
        bad = scalar(
            "disk",
            10,
            disk={"persistence": {"id": "bad"}, "volume": {"container_path": "d", "mode": "RW"}},
        )
        accept(
            sub,
            offer,
            operation("CREATE", [bad], "bad"),
            launch(offer, "after", [scalar("cpus", 0.1), scalar("mem", 32)]),
        )
        status = wait_operation(sub, "bad", "OPERATION_ERROR")
        assert status["message"].startswith(
            "Invalid resources: Invalid DiskInfo: "
            "Persistent volumes cannot be created from unreserved resources; "
            f"on agent {offer['agent_id']['value']} at slave(1)@"
        )
        assert "uuid" not in status and "agent_id" not in status
        wait_task(sub, "after", "TASK_RUNNING")
    finally:
        sub.close()


def test_reserving_more_than_offered_is_dropped(stateful: Master) -> None:
    """ReservationTest.DropReserveTooLarge: the conversion does not fit in
    what is left of the offer ("... does not contain ...")."""
    sub = subscribe(stateful)
    try:
        offer = sub.wait_offer()
        cpus = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
        accept(sub, offer, operation("RESERVE", [reserved("cpus", cpus + 1)], "big"))
        status = wait_operation(sub, "big", "OPERATION_ERROR")
        assert " does not contain " in status["message"]
        agent = {a["id"]: a for a in stateful.agents()}[offer["agent_id"]["value"]]
        assert agent["reserved_resources"] == {}
    finally:
        sub.close()


def test_duplicate_persistence_id_and_destroy_in_use_are_dropped(stateful: Master) -> None:
    """``validateUniquePersistenceID`` and ``operation::validate(Destroy)``: a
    second volume with the id of one on the agent fails, and so does
    destroying a volume a running task uses."""
    sub = subscribe(stateful)
    try:
        offer = _reserve_and_create(sub, "v2")
        agent_id = offer["agent_id"]["value"]
        wait_task(sub, "t-v2", "TASK_RUNNING")
        again = sub.wait_offer(
            lambda o: o["agent_id"]["value"] == agent_id and o["id"] != offer["id"]
        )
        accept(
            sub,
            again,
            operation("RESERVE", [reserved("disk", 16)], "r2"),
            operation("CREATE", [volume(16, "v2")], "dup"),
            operation("DESTROY", [volume(64, "v2")], "busy"),
        )
        assert wait_operation(sub, "dup", "OPERATION_ERROR")["message"].startswith(
            f"Persistence ID 'v2' is not unique; on agent {agent_id} at slave(1)@"
        )
        busy = wait_operation(sub, "busy", "OPERATION_ERROR")["message"]
        assert busy.startswith("Persistent volumes in use; on agent " + agent_id)
        wait_operation(sub, "r2", "OPERATION_FINISHED")
    finally:
        sub.close()


def test_operation_status_is_acknowledged_and_reconciled(stateful: Master) -> None:
    """OperationReconciliationTest.ReconcileUnackedAgentOperation and
    UnknownOperationKnownAgent: an unacknowledged operation reconciles to its
    latest status (no uuid); once acknowledged the master forgets it."""
    sub = subscribe(stateful)
    try:
        offer = sub.wait_offer()
        agent = offer["agent_id"]
        accept(sub, offer, operation("RESERVE", [reserved("cpus", 0.2)], "op"))
        finished = wait_operation(sub, "op", "OPERATION_FINISHED")

        def reconcile(*entries: dict) -> None:
            code, body = sub.call(
                {
                    "type": "RECONCILE_OPERATIONS",
                    "reconcile_operations": {"operations": list(entries)},
                }
            )
            assert code == 202, body

        reconcile({"operation_id": {"value": "op"}, "agent_id": agent})
        answer = wait_until(
            lambda: next(
                (
                    e["update_operation_status"]["status"]
                    for e in sub.of_type("UPDATE_OPERATION_STATUS")
                    if "uuid" not in e["update_operation_status"]["status"]
                ),
                None,
            ),
            what="a reconciliation answer",
        )
        assert answer == {
            "operation_id": {"value": "op"},
            "state": "OPERATION_FINISHED",
            "agent_id": agent,
        }

        code, body = sub.call(
            {
                "type": "ACKNOWLEDGE_OPERATION_STATUS",
                "acknowledge_operation_status": {
                    "agent_id": agent,
                    "uuid": finished["uuid"]["value"],
                    "operation_id": {"value": "op"},
                },
            }
        )
        assert code == 202, body
        reconcile({"operation_id": {"value": "op"}, "agent_id": agent})
        unknown = wait_operation(sub, "op", "OPERATION_UNKNOWN")
        assert unknown == {
            "operation_id": {"value": "op"},
            "state": "OPERATION_UNKNOWN",
            "message": "Reconciliation: Operation is unknown",
            "agent_id": agent,
        }
    finally:
        sub.close()


@pytest.mark.parametrize("encoding", ["protobuf"])
def test_operations_in_protobuf(stateful: Master, encoding: str) -> None:
    """The same RESERVE, CREATE and LAUNCH sent and answered in protobuf: the
    ``.proto`` subset carries reservations, ``disk`` and operation ids."""
    sub = subscribe(stateful, encoding=encoding)
    try:
        offer = _reserve_and_create(sub, "pb")
        wait_task(sub, "t-pb", "TASK_RUNNING")
        status = wait_operation(sub, "c-pb", "OPERATION_FINISHED")
        assert status["agent_id"] == offer["agent_id"]
        agent = {a["id"]: a for a in stateful.agents()}[offer["agent_id"]["value"]]
        assert agent["reserved_resources"][ROLE]["disk"] == 64
    finally:
        sub.close()


def test_volumes_and_their_data_survive_task_end_and_agent_restart(master: Master) -> None:
    """PersistentVolumeTest.SlaveRecovery in the simulator: a task writes a
    marker in its volume; after it ends and its agent restarts, the
    reservation and volume are offered again and the next task on the
    volume finds the marker."""
    cluster = master.require_sim("restart an agent and read a volume's data")
    sub = subscribe(master)
    try:
        label = {"labels": [{"key": "ark.sim/volume-write", "value": "marker=first"}]}
        offer = _reserve_and_create(sub, "data", labels=label)
        agent_id = offer["agent_id"]["value"]
        wait_task(sub, "t-data", "TASK_RUNNING")
        assert cluster.volume(agent_id, "data") == {"marker": "first"}
        cluster.kill_agent(agent_id)
        wait_task(sub, "t-data", "TASK_LOST")
        cluster.restart_agent(agent_id)
        back = sub.wait_offer(
            lambda o: o["agent_id"]["value"] == agent_id and has_volume(o, "data")
        )
        assert cluster.volume(agent_id, "data") == {"marker": "first"}
        vol = next(r for r in back["resources"] if r.get("disk"))
        accept(sub, back, launch(back, "second", [reserved("cpus", 0.1), reserved("mem", 32), vol]))
        wait_task(sub, "second", "TASK_RUNNING")
        assert cluster.volume(agent_id, "data") == {"marker": "first"}
    finally:
        sub.close()


def test_launch_with_an_operation_id_is_refused(stateful: Master) -> None:
    """``Master::accept``: LAUNCH gets no operation feedback, so a LAUNCH
    with an ``id`` fails its tasks (TASK_ERROR, REASON_TASK_INVALID)."""
    sub = subscribe(stateful)
    try:
        offer = sub.wait_offer()
        op = launch(offer, "with-id", [scalar("cpus", 0.1), scalar("mem", 32)])
        op["id"] = {"value": "launch-op"}
        accept(sub, offer, op)
        status = wait_task(sub, "with-id", "TASK_ERROR")
        assert status["reason"] == "REASON_TASK_INVALID"
        assert status["message"] == "The `id` field cannot be set on LAUNCH operations"
    finally:
        sub.close()


def test_reservation_and_unacknowledged_operation_survive_master_failover(master: Master) -> None:
    """ReservationTest.MasterFailover and
    OperationReconciliationTest.UnackedAgentOperationAfterMasterFailover in
    the simulator: the new leader offers the reservation again (the agent
    keeps it), and the agent re-sends the operation's unacknowledged
    status to the re-subscribed framework."""
    cluster = master.require_sim("fail a master over")
    info = dict(FRAMEWORK_INFO, failover_timeout=60.0)
    sub = subscribe(master, info)
    framework_id = sub.framework_id
    try:
        offer = sub.wait_offer()
        agent_id = offer["agent_id"]["value"]
        accept(sub, offer, operation("RESERVE", [reserved("cpus", 0.3), reserved("mem", 32)], "r"))
        wait_operation(sub, "r", "OPERATION_FINISHED")
    finally:
        sub.close()
    new = cluster.failover_master()
    again = Subscriber(new, dict(info, id={"value": framework_id}), framework_id)
    try:
        assert again.framework_id == framework_id
        wait_until(cluster.recovered, what="agents re-registered")
        status = wait_operation(again, "r", "OPERATION_FINISHED")
        assert status["agent_id"]["value"] == agent_id and "uuid" in status
        back = again.wait_offer(
            lambda o: o["agent_id"]["value"] == agent_id and bool(reserved_in(o))
        )
        assert sorted(r["name"] for r in reserved_in(back)) == ["cpus", "mem"]
    finally:
        again.close()
