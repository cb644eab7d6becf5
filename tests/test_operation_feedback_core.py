"""Operation feedback in both reducers, case by case (docs/reducer.md, Operation feedback).

Each case runs against the Python reference and the Rust core; the expected
values are worked out from the specification. The random sequences that
hold the two to each other are in tests/test_stateful_matching.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from ark import Config, Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.errors import MessageError
from ark.state import OperationRecord

ROLE = "db"
RESERVED = [m.Reservation(ROLE, principal="ark")]
DISK = m.Resource("disk", scalar=64.0, role=ROLE, reservations=RESERVED)
VOLUME = m.Resource(
    "disk",
    scalar=64.0,
    role=ROLE,
    reservations=RESERVED,
    persistence_id="pg-0",
    container_path="data",
)
FREE = [m.Resource("cpus", scalar=4.0), m.Resource("disk", scalar=100.0)]
U1 = bytes(range(16))
U2 = bytes(range(1, 17))

IMPLEMENTATIONS = [Reducer, reference.Reducer]


def subscribed(make: Any) -> Any:
    core = make(Config())
    core.step(m.Subscribed("fw"), 0.0)
    return core


def reserve_and_create(make: Any) -> Any:
    """A user's ACCEPT of o1 on a1: RESERVE (id r) and CREATE (id c), no launch."""
    core = subscribed(make)
    core.step(m.Offers([m.Offer("o1", "a1", "h1", FREE)]), 1.0)
    operations = [m.Operation("RESERVE", [DISK], "r"), m.Operation("CREATE", [VOLUME], "c")]
    [accept] = core.step(m.Accept(["o1"], [], operations=operations), 2.0)
    assert accept.operations == operations
    return core


def status(op_id: str, state: Any, **fields: Any) -> m.OperationUpdate:
    return m.OperationUpdate(m.OperationStatus(op_id, state, **fields))


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_an_operation_with_an_id_is_pending_until_mesos_says_more(make: Any) -> None:
    core = reserve_and_create(make)
    assert core.view().operations == [
        OperationRecord("c", "a1", "OPERATION_PENDING", None),
        OperationRecord("r", "a1", "OPERATION_PENDING", None),
    ]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_an_agents_status_is_acknowledged_each_time_it_comes(make: Any) -> None:
    core = reserve_and_create(make)
    finished = status("r", "OPERATION_FINISHED", agent_id="a1", uuid=U1)
    ack = fx.AcknowledgeOperationStatus("r", "a1", None, U1)
    assert core.step(finished, 3.0) == [ack]
    # The agent sends it again (our acknowledgement was lost): acknowledged again.
    assert core.step(finished, 4.0) == [ack]
    assert core.view().operations[1] == OperationRecord("r", "a1", "OPERATION_FINISHED", None)
    # An ended operation stays ended: the master forgets it once acknowledged.
    unknown = status("r", "OPERATION_UNKNOWN", agent_id="a1", message="Operation is unknown")
    assert core.step(unknown, 5.0) == []
    assert core.view().operations[1].state == "OPERATION_FINISHED"
    assert [v.persistence_id for v in core.view().volumes] == ["pg-0"]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_a_resource_providers_status_is_acknowledged_with_its_id(make: Any) -> None:
    core = subscribed(make)
    update = status("x", "OPERATION_FAILED", resource_provider_id="rp", uuid=U2)
    assert core.step(update, 1.0) == [fx.AcknowledgeOperationStatus("x", None, "rp", U2)]
    assert core.view().operations == [OperationRecord("x", None, "OPERATION_FAILED", None)]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_a_dropped_reserve_and_create_are_forgotten(make: Any) -> None:
    """The master drops an invalid operation: OPERATION_ERROR, no uuid, no agent."""
    core = reserve_and_create(make)
    assert core.view().reserved == [("a1", "disk", ROLE, 64.0)]
    assert core.step(status("c", "OPERATION_ERROR", message="bad volume"), 3.0) == []
    assert core.view().volumes == []
    assert core.step(status("r", "OPERATION_ERROR", message="bad principal"), 4.0) == []
    assert core.view().reserved == []
    assert core.view().operations == [
        OperationRecord("c", "a1", "OPERATION_ERROR", "bad volume"),
        OperationRecord("r", "a1", "OPERATION_ERROR", "bad principal"),
    ]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_a_refused_planned_volume_is_placed_afresh(make: Any) -> None:
    core = subscribed(make)
    request = m.TaskRequest(
        "pg",
        [m.Resource("cpus", scalar=1.0)],
        volume=m.Volume("pg-0", "data", 64.0, ROLE, principal="ark"),
    )
    core.step(m.Request([request]), 1.0)
    [accept, *_] = core.step(m.Offers([m.Offer("o1", "a1", "h1", FREE)]), 2.0)
    assert [op.id for op in accept.operations] == ["ark-reserve-pg", "ark-create-pg"]
    core.step(status("ark-reserve-pg", "OPERATION_ERROR", message="no"), 3.0)
    core.step(status("ark-create-pg", "OPERATION_ERROR", message="no"), 3.0)
    assert core.view().volumes == [] and core.view().reserved == []
    core.step(m.Update(m.TaskStatus("pg", "TASK_ERROR", agent_id="a1")), 4.0)
    # Not pinned to a1: the volume is not there. a2 gets a fresh one.
    [again, *_] = core.step(m.Offers([m.Offer("o2", "a2", "h2", FREE)]), 5.0)
    assert (again.agent_id, again.launches[0].task_id) == ("a2", "pg.1")
    assert [op.id for op in again.operations] == ["ark-reserve-pg.1", "ark-create-pg.1"]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_open_operations_are_reconciled_when_reconciliation_starts(make: Any) -> None:
    core = reserve_and_create(make)
    core.step(status("r", "OPERATION_FINISHED", agent_id="a1", uuid=U1), 3.0)
    asked = fx.ReconcileOperations([fx.ReconcileOperation("c", "a1", None)])
    assert core.step(m.Subscribed("fw"), 4.0)[-1] == asked
    # A tick or a Reconcile while idle starts one too.
    assert core.step(m.ReconcileTick(), 5.0)[-1] == asked
    # The master's answer carries no uuid: recorded, not acknowledged.
    answer = status("c", "OPERATION_FINISHED", agent_id="a1")
    assert core.step(answer, 6.0) == []
    assert not [e for e in core.step(m.Reconcile(), 7.0) if isinstance(e, fx.ReconcileOperations)]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_a_status_of_an_unknown_operation_is_recorded_and_acknowledged(make: Any) -> None:
    core = subscribed(make)
    update = status("old", "OPERATION_FINISHED", agent_id="a9", uuid=U1)
    assert core.step(update, 1.0) == [fx.AcknowledgeOperationStatus("old", "a9", None, U1)]
    assert core.view().operations == [OperationRecord("old", "a9", "OPERATION_FINISHED", None)]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "fields",
    [{"agent_id": "a1", "uuid": b"short"}, {"uuid": U1}],
    ids=["short uuid", "uuid without agent"],
)
def test_a_bad_uuid_is_a_message_error_and_changes_nothing(make: Any, fields: Any) -> None:
    core = reserve_and_create(make)
    before = core.view()
    with pytest.raises(MessageError):
        core.step(status("r", "OPERATION_FINISHED", **fields), 3.0)
    assert core.view() == before


PG = m.TaskRequest(
    "pg",
    [m.Resource("cpus", scalar=1.0)],
    volume=m.Volume("pg-0", "data", 64.0, ROLE, principal="ark"),
)


def placed_then_create_failed(make: Any, reserve_state: Any = "OPERATION_FINISHED") -> Any:
    """The matcher's RESERVE and CREATE for pg on a1; the RESERVE ends as
    ``reserve_state``, the CREATE fails, so does the launch."""
    core = subscribed(make)
    core.step(m.Request([PG]), 1.0)
    [accept] = [
        e
        for e in core.step(m.Offers([m.Offer("o1", "a1", "h1", FREE)]), 2.0)
        if isinstance(e, fx.Accept)
    ]
    assert [op.id for op in accept.operations] == ["ark-reserve-pg", "ark-create-pg"]
    if reserve_state is not None:
        core.step(status("ark-reserve-pg", reserve_state, agent_id="a1"), 3.0)
    core.step(status("ark-create-pg", "OPERATION_ERROR", message="bad volume"), 4.0)
    core.step(m.Update(m.TaskStatus("pg", "TASK_ERROR", agent_id="a1")), 5.0)
    return core


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
@pytest.mark.parametrize("reserve_state", ["OPERATION_FINISHED", None])
def test_a_reservation_whose_create_failed_is_given_back_when_offered(
    make: Any, reserve_state: Any
) -> None:
    core = placed_then_create_failed(make, reserve_state)
    assert core.view().volumes == []
    assert core.view().reserved == [("a1", "disk", ROLE, 64.0)]
    # Another agent's offer, or one without that reservation: nothing to give back.
    for offer in (
        m.Offer("o2", "a2", "h2", [*FREE, DISK]),
        m.Offer(
            "o3",
            "a1",
            "h1",
            [*FREE, m.Resource("disk", scalar=64.0, role=ROLE, reservations=[m.Reservation(ROLE)])],
        ),
    ):
        effects = core.step(m.Offers([offer]), 6.0)
        assert not any(isinstance(e, fx.Accept) and e.launches == [] for e in effects)
        core.step(m.Rescind(offer.id), 6.0)
    # a1 shows its 64 MB reserved for db by ark, merged with 36 more of another's.
    shown = m.Resource("disk", scalar=100.0, role=ROLE, reservations=RESERVED)
    effects = core.step(m.Offers([m.Offer("o4", "a1", "h1", [*FREE, shown])]), 7.0)
    (give_back,) = [e for e in effects if isinstance(e, fx.Accept) and e.launches == []]
    assert give_back.offer_ids == ["o4"]
    assert give_back.operations == [
        m.Operation(
            "UNRESERVE",
            [m.Resource("disk", scalar=64.0, role=ROLE, reservations=RESERVED)],
            "ark-unreserve-stranded-pg-o4",
        )
    ]
    # (pg.1 was placed afresh on a2's offer meanwhile.)
    assert [r for r in core.view().reserved if r[0] == "a1"] == []
    # Given back once: the next offer that shows reserved disk is left alone.
    effects = core.step(m.Offers([m.Offer("o5", "a1", "h1", [*FREE, shown])]), 8.0)
    assert not any(isinstance(e, fx.Accept) and e.launches == [] for e in effects)


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_a_reservation_that_failed_too_is_not_given_back(make: Any) -> None:
    core = placed_then_create_failed(make, None)
    core.step(status("ark-reserve-pg", "OPERATION_ERROR", message="refused"), 5.5)
    assert core.view().reserved == []
    effects = core.step(m.Offers([m.Offer("o2", "a1", "h1", [*FREE, DISK])]), 6.0)
    assert not any(isinstance(e, fx.Accept) and e.launches == [] for e in effects)


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_less_reserved_disk_than_stranded_is_not_given_back(make: Any) -> None:
    core = placed_then_create_failed(make)
    smaller = m.Resource("disk", scalar=32.0, role=ROLE, reservations=RESERVED)
    effects = core.step(
        m.Offers([m.Offer("o2", "a1", "h1", [m.Resource("cpus", 1.0), smaller])]), 6.0
    )
    assert not any(isinstance(e, fx.Accept) and e.launches == [] for e in effects)
    assert core.view().reserved == [("a1", "disk", ROLE, 64.0)]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_a_reserve_failure_after_its_disk_was_given_back_changes_nothing(make: Any) -> None:
    # The RESERVE not yet reported, its CREATE failed: a1's offer gives the disk
    # back, its next places pg.1 there afresh, reserving 64 MB again.
    core = placed_then_create_failed(make, None)
    shown = m.Resource("disk", scalar=64.0, role=ROLE, reservations=RESERVED)
    effects = core.step(m.Offers([m.Offer("o2", "a1", "h1", [shown])]), 6.0)
    accepts = [e for e in effects if isinstance(e, fx.Accept)]
    assert [[op.type for op in a.operations] for a in accepts] == [["UNRESERVE"]]
    assert core.view().reserved == []
    effects = core.step(m.Offers([m.Offer("o3", "a1", "h1", FREE)]), 7.0)
    accepts = [e for e in effects if isinstance(e, fx.Accept)]
    assert [[op.type for op in a.operations] for a in accepts] == [["RESERVE", "CREATE"]]
    assert core.view().reserved == [("a1", "disk", ROLE, 64.0)]
    # The first RESERVE failed after all: the UNRESERVE already took its disk
    # out, and pg.1's reservation stays counted.
    core.step(status("ark-reserve-pg", "OPERATION_ERROR", message="refused"), 8.0)
    assert core.view().reserved == [("a1", "disk", ROLE, 64.0)]


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
def test_a_withdraw_does_not_suppress_while_a_reservation_waits_to_be_given_back(
    make: Any,
) -> None:
    core = placed_then_create_failed(make)
    assert core.step(m.Withdraw(["pg.1"]), 6.0) == []
    assert core.view().demand == []
    shown = m.Resource("disk", scalar=64.0, role=ROLE, reservations=RESERVED)
    effects = core.step(m.Offers([m.Offer("o2", "a1", "h1", [shown])]), 7.0)
    assert [[op.type for op in e.operations] for e in effects if isinstance(e, fx.Accept)] == [
        ["UNRESERVE"]
    ]
    assert core.view().reserved == []
