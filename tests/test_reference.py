"""Both reducers, transition by transition, against ``docs/reducer.md``.

Over 600 lines on purpose: one hand-worked case per transition of the
specification, in its order.

Every expected value here is worked out by hand from the specification, never
by running the reducer under test. Each case runs against the Python
reference and the Rust core (``ark.core.Reducer``): the property tests hold
the two to each other, these hold each to the text.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import pytest

import ark.core
import ark.reference
from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected, MessageError
from ark.state import (
    AgentRecord,
    Config,
    OfferRecord,
    Reconciliation,
    StateView,
    TaskRecord,
)

# Round n waits min(20, 2 * 3 ** (n - 1)): 2, 6, 18, then the cap 20.
CONFIG = Config(
    reconcile_base_seconds=2.0,
    reconcile_factor=3.0,
    reconcile_cap_seconds=20.0,
    reconcile_max_rounds=4,
    reconcile_decline_seconds=7.0,
    offer_hold_seconds=10.0,
    offer_refuse_seconds=30.0,
)
U1 = bytes(range(16))
U2 = bytes(range(1, 17))
IDLE = Reconciliation("idle", 0, [], None, 0, None)

IMPLEMENTATIONS = {"reference": ark.reference.Reducer, "rust": ark.core.Reducer}
#: The reducer the cases and helpers build; `implementation` rebinds it to each in turn.
Reducer: Any = ark.reference.Reducer


@pytest.fixture(autouse=True, params=sorted(IMPLEMENTATIONS))
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every case once per implementation (test ids ``[reference]`` / ``[rust]``)."""
    monkeypatch.setattr(sys.modules[__name__], "Reducer", IMPLEMENTATIONS[request.param])
    name: str = request.param
    return name


# --- helpers ------------------------------------------------------------------------


def cpus(amount: float, role: str = "*") -> m.Resource:
    return m.Resource("cpus", scalar=amount, role=role)


def ports(*spans: tuple[int, int]) -> m.Resource:
    return m.Resource("ports", ranges=list(spans))


def disks(*items: str) -> m.Resource:
    return m.Resource("disks", set=list(items))


def offer(
    offer_id: str, agent: str = "a1", host: str = "h1", resources: list[m.Resource] | None = None
) -> m.Offer:
    return m.Offer(offer_id, agent, host, resources or [])


def held(o: m.Offer, at: float) -> OfferRecord:
    return OfferRecord(o.id, o.agent_id, o.hostname, o.resources, o.attributes, at)


def task(
    task_id: str,
    state: str = "TASK_RUNNING",
    agent: str | None = "a1",
    *,
    reason: str | None = None,
    source: str | None = None,
    message: str | None = None,
    uuid: bytes | None = None,
    ts: float | None = None,
    at: float = 0.0,
    unreconciled: bool = False,
    healthy: bool | None = None,
) -> TaskRecord:
    return TaskRecord(
        task_id,
        state,  # type: ignore[arg-type]
        agent,
        reason,
        source,
        message,
        uuid,
        ts,
        at,
        unreconciled,
        healthy,
    )


def status(
    task_id: str, state: str = "TASK_RUNNING", agent: str | None = "a1", **kw: object
) -> m.Update:
    return m.Update(m.TaskStatus(task_id, state, agent_id=agent, **kw))  # type: ignore[arg-type]


def tasks_of(r: Reducer) -> dict[str, TaskRecord]:
    return {t.task_id: t for t in r.view().tasks}


def rejected(r: Reducer, message: m.Message, error: type[Exception], now: float = 50.0) -> None:
    """The message raises ``error`` and the state is exactly as it was."""
    before = r.view()
    with pytest.raises(error):
        r.step(message, now)
    assert r.view() == before


def subscribed(now: float = 0.0) -> Reducer:
    """Registered, no task, idle (the first reconciliation was implicit only)."""
    r = Reducer(CONFIG)
    assert r.step(m.Subscribed("fw", 15.0), now) == [fx.Reconcile([])]
    return r


def with_offers(*offers: m.Offer, now: float = 1.0) -> Reducer:
    r = subscribed()
    assert r.step(m.Offers(list(offers)), now) == []
    return r


def reconciling(now: float = 10.0) -> Reducer:
    """Explicit round 1 over t1 (on a1) and t2 (no agent known); t3 is terminal."""
    r = Reducer(CONFIG)
    r.step(status("t1"), 0.0)
    r.step(status("t2", agent=None), 0.0)
    r.step(status("t3", "TASK_FINISHED"), 0.0)
    effects = r.step(m.Subscribed("fw"), now)
    assert effects == [
        fx.Reconcile([fx.ReconcileTask("t1", "a1"), fx.ReconcileTask("t2", None)]),
        fx.Timer(1, 2.0),
    ]
    return r


# --- initial state and bad input ---------------------------------------------------


def test_initial_view() -> None:
    assert Reducer().view() == StateView(None, False, False, None, None, None, [], [], [], IDLE)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        msgspec.msgpack.encode(["NoSuchMessage"]),
        msgspec.msgpack.encode(["Rescind", 5]),
        msgspec.msgpack.encode(["Rescind"]),
        msgspec.msgpack.encode(["Rescind", "o1", "extra"]),
        msgspec.msgpack.encode({"type": "Rescind", "offer_id": "o1"}),
        msgspec.msgpack.encode(["Update", ["t1", "TASK_NOPE"]]),
    ],
)
def test_malformed_bytes_are_a_message_error(data: bytes) -> None:
    r = with_offers(offer("o1"))
    before = r.view()
    with pytest.raises(MessageError, match="malformed"):
        r.step_bytes(data, 2.0)
    with pytest.raises(ValueError):  # MessageError is a ValueError too
        r.step_bytes(data, 2.0)
    assert r.view() == before


def test_step_bytes_applies_a_well_formed_message() -> None:
    r = with_offers(offer("o1"))
    assert r.step_bytes(m.encode(m.Rescind("o1")), 2.0) == []
    assert r.view().offers == []


def test_an_object_that_is_no_message_is_a_message_error() -> None:
    r = subscribed()
    before = r.view()
    with pytest.raises(MessageError):
        r.step("Heartbeat", 1.0)  # type: ignore[arg-type]
    assert r.view() == before


class ReferenceProbe(m.Custom, frozen=True):
    """A user message; its name must not clash in ``Custom.registry`` with other tests'."""

    n: int


def test_custom_messages_change_nothing() -> None:
    r = with_offers(offer("o1"))
    before = r.view()
    assert r.step(m.CustomEnvelope("Ping", b"\x91\x01"), 2.0) == []
    assert r.step_bytes(m.encode(ReferenceProbe(1)), 3.0) == []
    assert r.step(ReferenceProbe(2), 4.0) == []
    assert r.view() == before


# --- Subscribed, Reregistered ---------------------------------------------------------


def test_subscribed_without_tasks_reconciles_implicitly() -> None:
    r = Reducer(CONFIG)
    assert r.step(m.Subscribed("fw", 15.0, "master-1"), 3.0) == [fx.Reconcile([])]
    assert r.view() == StateView(
        "fw", True, False, None, 15.0, None, [], [], [], Reconciliation("idle", 0, [], None, 1, 3.0)
    )


def test_subscribed_starts_explicit_reconciliation_of_non_terminal_tasks() -> None:
    r = reconciling(now=10.0)
    view = r.view()
    assert view.reconciliation == Reconciliation("explicit", 1, ["t1", "t2"], 10.0, 0, None)
    assert view.registered and view.framework_id == "fw"
    assert view.heartbeat_interval_seconds is None


def test_subscribed_clears_the_error_and_takes_the_interval_as_given() -> None:
    r = subscribed()
    r.step(m.Error("Framework failed over"), 1.0)
    assert r.view().error == "Framework failed over"
    assert r.step(m.Subscribed("fw-2"), 2.0) == [fx.Reconcile([])]
    view = r.view()
    assert (view.framework_id, view.registered, view.error) == ("fw-2", True, None)
    # The given value, even when absent: the old 15 s is not kept.
    assert view.heartbeat_interval_seconds is None


def test_subscribed_resends_suppress_before_reconciling() -> None:
    r = Reducer(CONFIG)
    assert r.step(m.Suppress(), 0.0) == [fx.Suppress()]
    assert r.step(m.Subscribed("fw"), 1.0) == [fx.Suppress(), fx.Reconcile([])]
    assert r.view().suppressed


def test_subscribed_declines_held_offers_first() -> None:
    r = with_offers(offer("o2"), offer("o1", agent="a2"))
    # Nothing to reconcile: done at once, and the declined offers are revived.
    assert r.step(m.Subscribed("fw"), 2.0) == [
        fx.Decline(["o1", "o2"], 7.0),
        fx.Reconcile([]),
        fx.Revive(),
    ]
    assert r.view().offers == []


def test_subscribed_while_reconciling_restarts_it() -> None:
    r = reconciling(now=10.0)
    r.step(m.ReconcileTimeout(1), 12.0)
    r.step(status("t1"), 13.0)
    assert r.view().reconciliation == Reconciliation("explicit", 2, ["t2"], 10.0, 0, None)
    # Aborted (not counted) and started again over every non-terminal task.
    assert r.step(m.Subscribed("fw"), 20.0) == [
        fx.Reconcile([fx.ReconcileTask("t1", "a1"), fx.ReconcileTask("t2", None)]),
        fx.Timer(1, 2.0),
    ]
    assert r.view().reconciliation == Reconciliation("explicit", 1, ["t1", "t2"], 20.0, 0, None)


def test_reregistered_needs_a_framework_id() -> None:
    r = Reducer(CONFIG)
    r.step(status("t1"), 0.0)
    rejected(r, m.Reregistered("master-2"), MessageError)
    # An Error does not forget the id.
    r = subscribed()
    r.step(m.Error("gone"), 1.0)
    assert r.step(m.Reregistered(), 2.0) == [fx.Reconcile([])]


def test_reregistered_is_subscribed_with_the_current_id_and_interval() -> None:
    r = subscribed(now=0.0)
    r.step(m.Suppress(), 1.0)
    r.step(m.Offers([offer("o1")]), 2.0)
    r.step(m.Disconnected(), 3.0)
    assert r.step(m.Reregistered("master-2"), 4.0) == [fx.Suppress(), fx.Reconcile([])]
    assert r.view() == StateView(
        "fw",
        True,
        True,
        None,
        15.0,
        None,
        [AgentRecord("a1", "h1", True)],
        [],
        [],
        Reconciliation("idle", 0, [], None, 2, 4.0),
    )


# --- Offers, Rescind ------------------------------------------------------------------


def test_offers_are_held_and_agents_recorded() -> None:
    o1, o2 = offer("o1", resources=[cpus(1.0)]), offer("o2", agent="a2", host="h2")
    r = subscribed()
    assert r.step(m.Offers([o2, o1]), 5.0) == []
    view = r.view()
    assert view.offers == [held(o1, 5.0), held(o2, 5.0)]
    assert view.agents == [AgentRecord("a1", "h1", True), AgentRecord("a2", "h2", True)]


def test_duplicate_offers_are_skipped_but_update_the_agent() -> None:
    o1 = offer("o1")
    r = with_offers(o1, now=1.0)
    # o1 again (held), o3 twice in one event, each time from another agent.
    effects = r.step(
        m.Offers([offer("o1", agent="a2", host="h2"), offer("o3"), offer("o3", "a3", "h3")]), 4.0
    )
    assert effects == []
    view = r.view()
    assert view.offers == [held(o1, 1.0), held(offer("o3"), 4.0)]
    assert view.agents == [
        AgentRecord("a1", "h1", True),
        AgentRecord("a2", "h2", True),
        AgentRecord("a3", "h3", True),
    ]


def test_offers_update_hostname_and_reactivate_a_lost_agent() -> None:
    r = with_offers(offer("o1"))
    r.step(m.Failure("a1"), 2.0)
    assert r.view().agents == [AgentRecord("a1", "h1", False)]
    r.step(m.Offers([offer("o2", host="h1-new")]), 3.0)
    assert r.view().agents == [AgentRecord("a1", "h1-new", True)]


def test_offers_while_reconciling_are_declined_at_once() -> None:
    r = reconciling()
    effects = r.step(m.Offers([offer("o9"), offer("o1", agent="a2"), offer("o9")]), 11.0)
    assert effects == [fx.Decline(["o1", "o9"], 7.0)]
    view = r.view()
    assert view.offers == []
    assert view.agents == [AgentRecord("a1", "h1", True), AgentRecord("a2", "h1", True)]
    # Once every task answered, REVIVE clears the filters of those declines.
    assert r.step(status("t1"), 12.0) == []
    assert r.step(status("t2", agent=None), 13.0) == [fx.Reconcile([]), fx.Revive()]


def test_a_reconciliation_that_declined_nothing_revives_nothing() -> None:
    r = reconciling()
    r.step(status("t1"), 11.0)
    assert r.step(status("t2", agent=None), 12.0) == [fx.Reconcile([])]
    # Declines of an aborted reconciliation are not carried into the next one.
    r = reconciling()
    r.step(m.Offers([offer("o1")]), 11.0)
    r.step(m.Disconnected(), 12.0)
    r.step(m.Subscribed("fw"), 13.0)
    r.step(status("t1"), 14.0)
    assert r.step(status("t2", agent=None), 15.0) == [fx.Reconcile([])]


def test_a_suppressed_framework_is_not_revived_after_reconciling() -> None:
    r = reconciling()
    assert r.step(m.Suppress(), 11.0) == [fx.Suppress()]
    r.step(m.Offers([offer("o1")]), 12.0)
    r.step(status("t1"), 13.0)
    assert r.step(status("t2", agent=None), 14.0) == [fx.Reconcile([])]


def test_a_reconciliation_given_up_still_revives_what_it_declined() -> None:
    r = reconciling()
    r.step(m.Offers([offer("o1")]), 11.0)
    r.step(status("t1"), 11.5)
    for round_ in (1, 2, 3):
        r.step(m.ReconcileTimeout(round_), 12.0 + round_)
    assert r.step(m.ReconcileTimeout(4), 20.0) == [
        fx.Unreconciled(["t2"]),
        fx.Reconcile([]),
        fx.Revive(),
    ]


def test_offers_while_unregistered_are_declined_at_once() -> None:
    r = Reducer(CONFIG)
    assert r.step(m.Offers([offer("o2"), offer("o1")]), 1.0) == [fx.Decline(["o1", "o2"], 7.0)]
    assert r.view().offers == []
    assert r.view().agents == [AgentRecord("a1", "h1", True)]
    assert r.step(m.Offers([]), 2.0) == []


def test_rescind() -> None:
    o1 = offer("o1")
    r = with_offers(o1, offer("o2"))
    assert r.step(m.Rescind("o2"), 2.0) == []
    assert r.step(m.Rescind("unknown"), 2.0) == []
    assert r.view().offers == [held(o1, 1.0)]


# --- Update ---------------------------------------------------------------------------


def test_unknown_task_is_adopted() -> None:
    r = subscribed()
    update = status(
        "t1",
        "TASK_RUNNING",
        reason="REASON_RECONCILIATION",
        source="SOURCE_AGENT",
        message="hi",
        uuid=U1,
        timestamp=100.0,
        healthy=True,
    )
    assert r.step(update, 5.0) == [fx.Acknowledge("a1", "t1", U1)]
    assert r.view().tasks == [
        task(
            "t1",
            reason="REASON_RECONCILIATION",
            source="SOURCE_AGENT",
            message="hi",
            uuid=U1,
            ts=100.0,
            at=5.0,
            healthy=True,
        )
    ]


def test_master_update_without_uuid_is_not_acknowledged() -> None:
    r = subscribed()
    assert r.step(status("t1", "TASK_LOST", agent=None), 1.0) == []
    assert r.view().tasks == [task("t1", "TASK_LOST", None, at=1.0)]


def test_update_replaces_status_fields_and_keeps_absent_ids() -> None:
    r = subscribed()
    r.step(status("t1", "TASK_STARTING", reason="R", source="SOURCE_AGENT", uuid=U1), 1.0)
    r.step(status("t1", "TASK_STARTING", timestamp=50.0, message="m", uuid=U2), 2.0)
    assert tasks_of(r)["t1"] == task("t1", "TASK_STARTING", message="m", uuid=U2, ts=50.0, at=2.0)
    # No agent, uuid or timestamp: kept; reason/source/message: replaced by None.
    assert r.step(status("t1", "TASK_RUNNING", agent=None, reason="R2"), 3.0) == []
    assert tasks_of(r)["t1"] == task("t1", "TASK_RUNNING", reason="R2", uuid=U2, ts=50.0, at=3.0)
    r.step(status("t1", "TASK_RUNNING", agent="a9"), 4.0)
    assert tasks_of(r)["t1"] == task("t1", "TASK_RUNNING", "a9", uuid=U2, ts=50.0, at=4.0)


def test_retried_update_with_the_same_uuid_is_acknowledged_and_ignored() -> None:
    r = subscribed()
    r.step(status("t1", "TASK_RUNNING", uuid=U1), 1.0)
    before = r.view()
    assert r.step(status("t1", "TASK_KILLING", uuid=U1), 2.0) == [fx.Acknowledge("a1", "t1", U1)]
    assert r.view() == before


def test_older_timestamp_is_stale_equal_and_missing_are_not() -> None:
    r = subscribed()
    r.step(status("t1", "TASK_STARTING", timestamp=10.0, uuid=U2), 1.0)
    assert r.step(status("t1", "TASK_RUNNING", timestamp=9.5, uuid=U1), 2.0) == [
        fx.Acknowledge("a1", "t1", U1)
    ]
    assert tasks_of(r)["t1"] == task("t1", "TASK_STARTING", ts=10.0, at=1.0, uuid=U2)
    r.step(status("t1", "TASK_RUNNING", timestamp=10.0), 3.0)
    assert tasks_of(r)["t1"] == task("t1", "TASK_RUNNING", ts=10.0, at=3.0, uuid=U2)
    r.step(status("t1", "TASK_KILLING"), 4.0)
    assert tasks_of(r)["t1"] == task("t1", "TASK_KILLING", ts=10.0, at=4.0, uuid=U2)


def test_a_master_timestamp_does_not_date_the_task() -> None:
    # A reconciliation answer is stamped when the master answers: the agent's
    # own pending update, older than that, must still apply.
    r = subscribed()
    r.step(status("t1", "TASK_STARTING", timestamp=20.0, source="SOURCE_MASTER"), 1.0)
    assert tasks_of(r)["t1"].status_timestamp is None
    r.step(status("t1", "TASK_RUNNING", timestamp=15.0, uuid=U1), 2.0)
    assert tasks_of(r)["t1"].state == "TASK_RUNNING"
    assert tasks_of(r)["t1"].status_timestamp == 15.0


def test_terminal_state_stands() -> None:
    r = subscribed()
    r.step(status("t1", "TASK_FAILED", reason="R"), 1.0)
    before = r.view()
    assert r.step(status("t1", "TASK_KILLED", uuid=U1), 2.0) == [fx.Acknowledge("a1", "t1", U1)]
    assert r.view() == before


def test_zombie_is_killed_on_the_status_agent_or_the_recorded_one() -> None:
    r = subscribed()
    r.step(status("t1", "TASK_LOST", agent="a1"), 1.0)
    before = r.view()
    assert r.step(status("t1", "TASK_RUNNING", agent="a2", uuid=U1), 2.0) == [
        fx.Acknowledge("a2", "t1", U1),
        fx.Kill("t1", "a2"),
    ]
    assert r.step(status("t1", "TASK_UNREACHABLE", agent=None), 3.0) == [fx.Kill("t1", "a1")]
    assert r.view() == before


@pytest.mark.parametrize(
    ("uuid", "agent"),
    [(b"short", "a1"), (bytes(17), "a1"), (b"", "a1"), (U1, None)],
)
def test_bad_uuid_or_missing_agent_is_a_message_error(uuid: bytes, agent: str | None) -> None:
    r = reconciling()
    rejected(r, status("t1", agent=agent, uuid=uuid), MessageError)
    before = r.view()
    with pytest.raises(MessageError):
        r.step_bytes(m.encode(status("t1", agent=agent, uuid=uuid)), 11.0)
    assert r.view() == before


def test_update_clears_unreconciled() -> None:
    r = reconciling()
    for n in (1, 2, 3, 4):
        r.step(m.ReconcileTimeout(n), 20.0)
    assert tasks_of(r)["t1"].unreconciled
    r.step(status("t1", "TASK_RUNNING"), 30.0)
    assert tasks_of(r)["t1"] == task("t1", at=30.0)


# --- reconciliation --------------------------------------------------------------------


def test_answers_finish_reconciliation_after_the_update_applies() -> None:
    r = reconciling(now=10.0)
    assert r.step(status("t2", "TASK_RUNNING", agent="a2"), 11.0) == []
    assert r.view().reconciliation == Reconciliation("explicit", 1, ["t1"], 10.0, 0, None)
    assert r.step(status("t1", "TASK_FINISHED", uuid=U1), 12.0) == [
        fx.Acknowledge("a1", "t1", U1),
        fx.Reconcile([]),
    ]
    view = r.view()
    assert view.reconciliation == Reconciliation("idle", 0, [], None, 1, 12.0)
    assert tasks_of(r)["t1"] == task("t1", "TASK_FINISHED", uuid=U1, at=12.0)
    # Later updates of formerly pending tasks do not finish anything again.
    assert r.step(status("t2", "TASK_RUNNING", agent="a2"), 13.0) == []
    assert r.view().reconciliation.completed == 1


def test_a_stale_answer_still_counts_as_an_answer() -> None:
    r = Reducer(CONFIG)
    r.step(status("t1", "TASK_RUNNING", uuid=U1), 0.0)
    r.step(m.Subscribed("fw"), 1.0)
    assert r.step(status("t1", "TASK_RUNNING", uuid=U1), 2.0) == [
        fx.Acknowledge("a1", "t1", U1),
        fx.Reconcile([]),
    ]
    assert tasks_of(r)["t1"] == task("t1", uuid=U1, at=0.0)


def test_timeouts_back_off_up_to_the_cap_then_give_up() -> None:
    r = reconciling(now=10.0)
    both = [fx.ReconcileTask("t1", "a1"), fx.ReconcileTask("t2", None)]
    assert r.step(m.ReconcileTimeout(1), 12.0) == [fx.Reconcile(both), fx.Timer(2, 6.0)]
    # Answered between rounds: only t2 is asked again.
    r.step(status("t1"), 13.0)
    only_t2 = [fx.ReconcileTask("t2", None)]
    assert r.step(m.ReconcileTimeout(2), 18.0) == [fx.Reconcile(only_t2), fx.Timer(3, 18.0)]
    assert r.step(m.ReconcileTimeout(3), 36.0) == [fx.Reconcile(only_t2), fx.Timer(4, 20.0)]
    assert r.view().reconciliation == Reconciliation("explicit", 4, ["t2"], 10.0, 0, None)
    # Round 4 is the last (max_rounds = 4).
    assert r.step(m.ReconcileTimeout(4), 56.0) == [fx.Unreconciled(["t2"]), fx.Reconcile([])]
    view = r.view()
    assert view.reconciliation == Reconciliation("idle", 0, [], None, 1, 56.0)
    assert tasks_of(r)["t2"] == task("t2", agent=None, unreconciled=True)
    assert tasks_of(r)["t1"] == task("t1", at=13.0)


def test_unreconciled_lists_every_pending_task_sorted() -> None:
    r = reconciling()
    for n in (1, 2, 3):
        r.step(m.ReconcileTimeout(n), 20.0)
    assert r.step(m.ReconcileTimeout(4), 40.0) == [
        fx.Unreconciled(["t1", "t2"]),
        fx.Reconcile([]),
    ]
    assert [t.task_id for t in r.view().tasks if t.unreconciled] == ["t1", "t2"]


@pytest.mark.parametrize("round_", [0, 2, 5, -1, 2**40])
def test_a_timeout_for_another_round_is_ignored(round_: int) -> None:
    # Found by running these cases against Rust: its round was a u32, so a
    # negative one was malformed there, not ignored as the text says.
    r = reconciling()
    before = r.view()
    assert r.step(m.ReconcileTimeout(round_), 12.0) == []
    assert r.view() == before


def test_a_timeout_while_idle_is_ignored() -> None:
    r = subscribed()
    before = r.view()
    assert r.step(m.ReconcileTimeout(0), 1.0) == []
    assert r.step(m.ReconcileTimeout(1), 1.0) == []
    assert r.view() == before


def test_backoff_that_overflows_a_float_is_capped() -> None:
    config = Config(reconcile_factor=1e200, reconcile_cap_seconds=60.0, reconcile_max_rounds=9)
    r = Reducer(config)
    r.step(status("t1"), 0.0)
    assert r.step(m.Subscribed("fw"), 1.0)[-1] == fx.Timer(1, 2.0)
    assert r.step(m.ReconcileTimeout(1), 2.0)[-1] == fx.Timer(2, 60.0)
    assert r.step(m.ReconcileTimeout(2), 3.0)[-1] == fx.Timer(3, 60.0)  # 1e400 overflows


@pytest.mark.parametrize("message", [m.ReconcileTick(), m.Reconcile()])
def test_reconcile_tick_and_command(message: m.Message) -> None:
    r = Reducer(CONFIG)
    r.step(status("t1"), 0.0)
    before = r.view()
    assert r.step(message, 1.0) == []  # not registered
    assert r.view() == before
    r.step(m.Subscribed("fw"), 2.0)
    r.step(status("t1"), 3.0)  # answered: idle again, completed 1
    r.step(m.Offers([offer("o1")]), 4.0)
    assert r.step(message, 5.0) == [
        fx.Decline(["o1"], 7.0),
        fx.Reconcile([fx.ReconcileTask("t1", "a1")]),
        fx.Timer(1, 2.0),
    ]
    assert r.view().reconciliation == Reconciliation("explicit", 1, ["t1"], 5.0, 1, 3.0)
    before = r.view()
    assert r.step(message, 6.0) == []  # already running
    assert r.view() == before


def test_reconcile_tick_without_tasks_is_implicit_only() -> None:
    r = subscribed(now=0.0)
    assert r.step(m.ReconcileTick(), 9.0) == [fx.Reconcile([])]
    assert r.view().reconciliation == Reconciliation("idle", 0, [], None, 2, 9.0)


# --- Failure, Error, Disconnected, Heartbeat, FrameworkMessage ------------------------------


def test_failure_of_an_agent_drops_its_offers_not_its_tasks() -> None:
    o2 = offer("o2", agent="a2", host="h2")
    r = with_offers(offer("o1"), o2, offer("o3"))
    r.step(status("t1"), 2.0)
    assert r.step(m.Failure("a1", status=9), 3.0) == []
    view = r.view()
    assert view.offers == [held(o2, 1.0)]
    assert view.agents == [AgentRecord("a1", "h1", False), AgentRecord("a2", "h2", True)]
    assert view.tasks == [task("t1", at=2.0)]


def test_failure_of_an_unknown_agent_creates_no_record() -> None:
    r = subscribed()
    assert r.step(m.Failure("a7"), 1.0) == []
    assert r.view().agents == []


def test_failure_of_an_executor_changes_nothing() -> None:
    r = with_offers(offer("o1"))
    before = r.view()
    assert r.step(m.Failure("a1", executor_id="e1", status=1), 2.0) == []
    assert r.view() == before


@pytest.mark.parametrize("message", [m.Error("removed"), m.Disconnected()])
def test_error_and_disconnect_drop_offers_and_abort_reconciliation(message: m.Message) -> None:
    r = with_offers(offer("o1"))
    assert r.step(message, 2.0) == []
    view = r.view()
    assert (view.registered, view.offers) == (False, [])
    assert view.error == ("removed" if isinstance(message, m.Error) else None)

    r = reconciling(now=10.0)
    r.step(m.ReconcileTimeout(1), 12.0)
    assert r.step(message, 13.0) == []
    assert r.view().reconciliation == IDLE
    # The aborted round's timer is stale now.
    assert r.step(m.ReconcileTimeout(2), 18.0) == []
    assert r.view().reconciliation == IDLE


def test_heartbeat_and_framework_message() -> None:
    r = subscribed()
    assert r.step(m.Heartbeat(), 7.5) == []
    assert r.view().last_heartbeat_at == 7.5
    before = r.view()
    assert r.step(m.FrameworkMessage("a1", "e1", b"data"), 8.0) == []
    assert r.view() == before


# --- Tick -----------------------------------------------------------------------------


def test_tick_declines_offers_held_too_long() -> None:
    r = subscribed()
    o3 = offer("o3")
    r.step(m.Offers([offer("o2"), offer("o1")]), 0.0)
    r.step(m.Offers([o3]), 5.0)
    assert r.step(m.Tick(), 9.99) == []
    assert r.step(m.Tick(), 10.0) == [fx.Decline(["o1", "o2"], 30.0)]
    assert r.view().offers == [held(o3, 5.0)]
    assert r.step(m.Tick(), 14.0) == []
    assert r.step(m.Tick(), 15.5) == [fx.Decline(["o3"], 30.0)]
    assert r.view().offers == []


# --- Accept ---------------------------------------------------------------------------


def test_accept_launches_on_offers_of_one_agent() -> None:
    o1 = offer("o1", resources=[cpus(1.5), ports((31000, 31009)), disks("d1", "d2")])
    o2 = offer("o2", resources=[cpus(0.5), ports((32000, 32000)), disks("d3")])
    o3 = offer("o3", agent="a2")
    r = with_offers(o1, o2, o3)
    web = m.Launch("web", "web", [cpus(1.0), ports((31000, 31004)), disks("d1", "d3")], b"cmd")
    db = m.Launch("db", "", [cpus(1.0), ports((31005, 31009), (32000, 32000)), disks("d2")])
    effects = r.step(m.Accept(["o2", "o1"], [web, db], refuse_seconds=3.0), 4.0)
    assert effects == [
        fx.Accept(
            ["o2", "o1"],
            "a1",
            [
                fx.LaunchTask("web", "a1", "web", web.resources, b"cmd"),
                fx.LaunchTask("db", "a1", "", db.resources, b""),
            ],
            3.0,
        )
    ]
    view = r.view()
    assert view.offers == [held(o3, 1.0)]
    assert view.tasks == [
        task("db", "TASK_STAGING", "a1", at=4.0),
        task("web", "TASK_STAGING", "a1", at=4.0),
    ]


def test_accept_scalar_sums_allow_less_than_1e_9_over() -> None:
    r = with_offers(offer("o1", resources=[cpus(1.0)]))
    rejected(r, m.Accept(["o1"], [m.Launch("t1", resources=[cpus(1.0 + 2e-9)])]), CommandRejected)
    rejected(r, m.Accept(["o1"], [m.Launch("t1", resources=[cpus(1.0 + 1e-9)])]), CommandRejected)
    launch = m.Launch("t1", resources=[cpus(0.5 + 5e-10), cpus(0.5)])
    assert len(r.step(m.Accept(["o1"], [launch]), 2.0)) == 1


def test_accept_with_no_resources_and_zero_scalars() -> None:
    r = with_offers(offer("o1"))
    launch = m.Launch("t1", resources=[cpus(0.0), m.Resource("gpus", scalar=0.0)])
    assert r.step(m.Accept(["o1"], [launch, m.Launch("t2")]), 2.0) == [
        fx.Accept(
            ["o1"],
            "a1",
            [
                fx.LaunchTask("t1", "a1", "", launch.resources, b""),
                fx.LaunchTask("t2", "a1", "", [], b""),
            ],
            5.0,
        )
    ]


def accept_rejections() -> list[tuple[str, list[m.Offer], m.Accept]]:
    a1 = offer("o1", resources=[cpus(2.0), ports((100, 109)), disks("d1")])
    a1b = offer("o2", resources=[cpus(1.0), ports((110, 119)), disks("d1")])
    a2 = offer("o3", agent="a2", resources=[cpus(4.0)])
    ok = m.Launch("new", resources=[cpus(1.0)])

    def launch(*resources: m.Resource, task_id: str = "new") -> list[m.Launch]:
        return [m.Launch(task_id, resources=list(resources))]

    return [
        ("no offer", [a1], m.Accept([], [ok])),
        ("offer twice", [a1], m.Accept(["o1", "o1"], [ok])),
        ("unknown offer", [a1], m.Accept(["o1", "o9"], [ok])),
        ("agents mixed", [a1, a2], m.Accept(["o1", "o3"], [ok])),
        ("no launch", [a1], m.Accept(["o1"], [])),
        ("task twice", [a1], m.Accept(["o1"], [ok, m.Launch("new")])),
        ("task known", [a1], m.Accept(["o1"], [m.Launch("old")])),
        ("too many cpus", [a1, a1b], m.Accept(["o1", "o2"], launch(cpus(2.0), cpus(1.5)))),
        (
            "cpus split over tasks",
            [a1],
            m.Accept(["o1"], [*launch(cpus(1.5)), m.Launch("n2", resources=[cpus(1.0)])]),
        ),
        ("other role", [a1], m.Accept(["o1"], launch(cpus(1.0, role="web")))),
        ("not offered", [a1], m.Accept(["o1"], launch(m.Resource("mem", scalar=1.0)))),
        ("negative", [a1], m.Accept(["o1"], launch(cpus(-1.0), cpus(1.5)))),
        (
            "negative offered",
            [offer("o1", resources=[cpus(-0.5)])],
            m.Accept(["o1"], [m.Launch("new")]),
        ),
        ("range lo > hi", [a1], m.Accept(["o1"], launch(ports((105, 104))))),
        ("range outside", [a1], m.Accept(["o1"], launch(ports((108, 110))))),
        ("range across offers", [a1, a1b], m.Accept(["o1", "o2"], launch(ports((109, 110))))),
        (
            "range of a role",
            [a1],
            m.Accept(["o1"], launch(m.Resource("ports", ranges=[(100, 100)], role="web"))),
        ),
        ("ranges overlap", [a1], m.Accept(["o1"], launch(ports((100, 104), (104, 105))))),
        (
            "ranges overlap across tasks",
            [a1],
            m.Accept(
                ["o1"], [*launch(ports((100, 109))), *launch(ports((105, 105)), task_id="n2")]
            ),
        ),
        (
            "named port not its own",
            [a1],
            m.Accept(
                ["o1"],
                [m.Launch("new", resources=[ports((100, 101))], named_ports=[("http", 102)])],
            ),
        ),
        (
            "port named twice",
            [a1],
            m.Accept(
                ["o1"],
                [
                    m.Launch(
                        "new", resources=[ports((100, 101))], named_ports=[("a", 100), ("a", 101)]
                    )
                ],
            ),
        ),
        ("set item not offered", [a1], m.Accept(["o1"], launch(disks("d2")))),
        ("set item twice", [a1, a1b], m.Accept(["o1", "o2"], launch(disks("d1", "d1")))),
        (
            "set item in two tasks",
            [a1],
            m.Accept(["o1"], [*launch(disks("d1")), *launch(disks("d1"), task_id="n2")]),
        ),
    ]


@pytest.mark.parametrize(
    ("offers", "accept"),
    [case[1:] for case in accept_rejections()],
    ids=[case[0] for case in accept_rejections()],
)
def test_accept_rejected(offers: list[m.Offer], accept: m.Accept) -> None:
    r = with_offers(*offers)
    r.step(status("old"), 2.0)
    rejected(r, accept, CommandRejected)


def test_accept_of_ranges_exactly_at_the_bounds() -> None:
    r = with_offers(offer("o1", resources=[ports((100, 101), (200, 200))]))
    launches = [
        m.Launch("t1", resources=[ports((100, 100))]),
        m.Launch("t2", resources=[ports((101, 101), (200, 200))]),
    ]
    assert len(r.step(m.Accept(["o1"], launches), 2.0)) == 1


# --- Decline, Kill, Suppress, Revive, SendMessage -------------------------------------------


def test_decline() -> None:
    o2 = offer("o2")
    r = with_offers(offer("o1"), o2, offer("o3"))
    rejected(r, m.Decline([]), CommandRejected)
    rejected(r, m.Decline(["o1", "o9"]), CommandRejected)
    rejected(r, m.Decline(["o3", "o1", "o3"]), CommandRejected)
    assert r.step(m.Decline(["o3", "o1"], refuse_seconds=60.0), 2.0) == [
        fx.Decline(["o1", "o3"], 60.0)
    ]
    assert r.view().offers == [held(o2, 1.0)]
    rejected(r, m.Decline(["o1"]), CommandRejected)


def test_kill() -> None:
    r = subscribed()
    rejected(r, m.Kill("t1"), CommandRejected)
    r.step(status("t1", "TASK_RUNNING", agent=None), 1.0)
    r.step(status("t2", "TASK_KILLED"), 1.0)
    before = r.view()
    assert r.step(m.Kill("t1"), 2.0) == [fx.Kill("t1", None)]
    assert r.step(m.Kill("t2"), 2.0) == []
    assert r.view() == before


def test_suppress_is_idempotent_and_revive_always_sent() -> None:
    r = subscribed()
    assert r.step(m.Revive(), 1.0) == [fx.Revive()]
    assert not r.view().suppressed
    assert r.step(m.Suppress(), 1.0) == [fx.Suppress()]
    assert r.step(m.Suppress(), 2.0) == []
    assert r.view().suppressed
    assert r.step(m.Revive(), 3.0) == [fx.Revive()]
    assert r.step(m.Revive(), 4.0) == [fx.Revive()]
    assert not r.view().suppressed


def test_send_message() -> None:
    r = Reducer(CONFIG)
    before = r.view()
    assert r.step(m.SendMessage("a1", "e1", b"ping"), 1.0) == [fx.Message("a1", "e1", b"ping")]
    assert r.view() == before


# --- the view -------------------------------------------------------------------------------


def test_view_is_a_snapshot() -> None:
    r = with_offers(offer("o1"))
    r.step(status("t1"), 2.0)
    before = r.view()
    r.step(status("t1", "TASK_FINISHED"), 3.0)
    r.step(m.Rescind("o1"), 3.0)
    assert before.tasks == [task("t1", at=2.0)]
    assert [o.offer_id for o in before.offers] == ["o1"]
