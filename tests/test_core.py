"""The Rust core through its Python API: errors, snapshots, batches."""

import gc
import logging
import threading
import time

import msgspec
import pytest

from ark import CommandRejected, Config, Custom, Inbox, MessageError, Reducer, reference
from ark import effects as fx
from ark import messages as m
from ark.effects import decode_effects
from ark.errors import ArkError, InboxClosed, InternalError
from ark.scheduler import Scheduler
from test_scheduler import Manager, Question, RecordingDriver
from waiting import wait_until


def offer(offer_id: str, agent: str = "a1", cpus: float = 4.0) -> m.Offer:
    return m.Offer(offer_id, agent, f"{agent}.example", [m.Resource("cpus", scalar=cpus)])


def launched() -> Reducer:
    r = Reducer()
    r.step(m.Subscribed("fw"), 0.0)
    r.step(m.Offers([offer("o1")]), 1.0)
    r.step(m.Accept(["o1"], [m.Launch("t1", resources=[m.Resource("cpus", scalar=1.0)])]), 2.0)
    return r


class Ping(Custom):
    n: int


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        msgspec.msgpack.encode([1, 2]),
        msgspec.msgpack.encode({"type": "NoSuchMessage"}),
        msgspec.msgpack.encode({"offer_id": "o1", "type": "Rescind"}),
        msgspec.msgpack.encode({"type": "Rescind", "offer_id": 5}),
        msgspec.msgpack.encode({"type": "Rescind", "offer_id": "o", "extra": 1}),
        msgspec.msgpack.encode({"type": "Update", "status": {"task_id": "t", "state": "BAD"}}),
    ],
)
def test_malformed_bytes_raise_message_error_and_change_nothing(data: bytes) -> None:
    r = launched()
    before = r.view()
    with pytest.raises(MessageError) as raised:
        r.step_bytes(data, 3.0)
    assert "malformed message" in str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert r.view() == before


def test_rejected_commands_raise_and_change_nothing() -> None:
    r = launched()
    before = r.view()
    for command in [
        m.Kill("ghost"),
        m.Decline(["o1"]),
        m.Accept(["o9"], [m.Launch("t2")]),
        m.Update(m.TaskStatus("t1", "TASK_RUNNING", uuid=b"0" * 16)),
    ]:
        with pytest.raises((CommandRejected, MessageError)):
            r.step(command, 3.0)
        assert r.view() == before


@pytest.mark.parametrize(
    "task",
    [
        m.TaskRequest("t", strategy="best"),  # type: ignore[arg-type]
        m.TaskRequest("t", constraints=[m.Constraint("rack", "NEAR")]),  # type: ignore[arg-type]
    ],
)
def test_a_request_with_an_unknown_literal_is_malformed_in_both_cores(task: m.TaskRequest) -> None:
    for r in (launched(), reference.Reducer()):
        with pytest.raises(MessageError):
            r.step_bytes(m.encode(m.Request([task])), 3.0)
        assert not r.view().demand


@pytest.mark.parametrize("make", [Reducer, reference.Reducer])
def test_offers_given_back_while_nothing_is_wanted_carry_the_long_filter(make: type) -> None:
    r = make(Config(offer_hold_seconds=10.0, offer_idle_refuse_seconds=300.0))
    cpus = [m.Resource("cpus", scalar=1.0)]
    r.step(m.Subscribed("fw"), 0.0)
    r.step(m.Offers([offer("o1"), offer("o2", "a2")]), 1.0)
    # Never asked for anything, never suppressed: a raw-offer framework.
    assert r.step(m.Tick(), 11.0) == [fx.Decline(["o1", "o2"], 5.0)]
    assert r.step(m.Request([m.TaskRequest("t1", cpus)]), 12.0) == [fx.Revive()]
    # The cycle places everything: its Accept and Decline say "nothing more".
    assert r.step(m.Offers([offer("o3"), offer("o4", "a2")]), 13.0) == [
        fx.Accept(["o3"], "a1", [fx.LaunchTask("t1", "a1", "", cpus, b"")], 300.0),
        fx.Decline(["o4"], 300.0),
        fx.Suppress(),
    ]
    r.step(m.Offers([offer("o5")]), 14.0)
    assert r.step(m.Tick(), 30.0) == [fx.Decline(["o5"], 300.0)]
    # Demand that does not fit: declines stay short.
    big = [m.Resource("cpus", scalar=9.0)]
    assert r.step(m.Request([m.TaskRequest("t2", big)]), 31.0) == [fx.Revive()]
    assert r.step(m.Offers([offer("o6")]), 32.0) == [fx.Decline(["o6"], 5.0)]


def test_named_ports_of_an_accept_are_checked_and_carried() -> None:
    r = Reducer()
    r.step(m.Subscribed("fw"), 0.0)
    r.step(m.Offers([m.Offer("o1", "a1", "h1", [m.Resource("ports", ranges=[(10, 19)])])]), 1.0)
    before = r.view()
    own = [m.Resource("ports", ranges=[(10, 11)])]
    for named in ([("http", 12)], [("a", 10), ("a", 11)]):
        with pytest.raises(CommandRejected, match="port"):
            r.step(m.Accept(["o1"], [m.Launch("t", resources=own, named_ports=named)]), 2.0)
        assert r.view() == before
    (accept,) = r.step(
        m.Accept(["o1"], [m.Launch("t", resources=own, named_ports=[("http", 11)])]), 2.0
    )
    assert isinstance(accept, fx.Accept)
    assert accept.launches[0].named_ports == [("http", 11)]


def test_step_batch_reports_failures_by_index_and_applies_the_rest() -> None:
    r = Reducer()
    batch = [
        m.encode(m.Subscribed("fw")),
        b"garbage",
        m.encode(m.Kill("ghost")),
        m.encode(m.Suppress()),
    ]
    effects, errors = r.step_batch(batch, now=1.0)
    assert effects == [fx.Reconcile(tasks=[]), fx.Suppress()]
    assert [(i, type(e)) for i, e in errors] == [(1, MessageError), (2, CommandRejected)]
    assert r.view().suppressed


def test_custom_messages_pass_through_untouched() -> None:
    r = launched()
    before = r.view()
    assert r.step(Ping(3), 3.0) == []
    assert r.view() == before
    assert m.decode(m.encode(Ping(3))) == Ping(3)


def test_snapshots_are_immutable_and_independent_of_later_steps() -> None:
    r = launched()
    snap = r.snapshot()
    r.step(m.Update(m.TaskStatus("t1", "TASK_FAILED", agent_id="a1")), 3.0)
    assert snap.tasks_by_state() == {"TASK_STAGING": ["t1"]}
    assert r.snapshot().tasks_by_state() == {"TASK_FAILED": ["t1"]}
    record = snap.task("t1")
    assert record is not None and record.state == "TASK_STAGING" and record.agent_id == "a1"
    assert snap.task("nope") is None
    assert snap.tasks_on_agent("a1") == ["t1"]
    assert (snap.framework_id, snap.registered, snap.task_count) == ("fw", True, 1)
    with pytest.raises(AttributeError):
        snap.registered = False  # type: ignore[misc]


def test_config_shapes_the_backoff() -> None:
    r = Reducer(Config(reconcile_base_seconds=0.5, reconcile_factor=3.0))
    r.step(m.Subscribed("fw"), 0.0)
    r.step(m.Offers([offer("o1")]), 1.0)
    r.step(m.Accept(["o1"], [m.Launch("t1")]), 2.0)
    assert r.step(m.ReconcileTick(), 3.0)[1] == fx.Timer(round=1, seconds=0.5)
    assert r.step(m.ReconcileTimeout(1), 4.0)[1] == fx.Timer(round=2, seconds=1.5)
    snap = r.snapshot()
    assert (snap.reconciliation_phase, snap.reconciliation_round) == ("explicit", 2)


def test_custom_types_of_the_same_name_do_not_mix() -> None:
    def other_ping() -> type[m.Custom]:
        class Ping(m.Custom):
            text: str

        return Ping

    other = other_ping()
    assert other.kind() != Ping.kind()
    assert m.decode(m.encode(Ping(3))) == Ping(3)
    assert m.decode(m.encode(other("x"))) == other("x")  # type: ignore[call-arg]


def test_snapshots_convert_to_records_and_pandas() -> None:
    core = Reducer()
    cpus = m.Resource("cpus", scalar=2.0)
    core.step(m.Subscribed("fw"), now=0.0)
    core.step(m.Offers([m.Offer("o1", "a1", "h1", [cpus]), m.Offer("o2", "a2", "h2", [cpus])]), 1.0)
    core.step(m.Accept(["o1"], [m.Launch("t1", resources=[cpus])]), now=2.0)
    snap = core.snapshot()
    (task,) = snap.records("tasks")
    assert task["task_id"] == "t1" and task["state"] == "TASK_STAGING" and not task["terminal"]
    assert [o["cpus"] for o in snap.records("offers")] == [2.0]
    tasks = snap.to_pandas()
    assert list(tasks.task_id) == ["t1"]
    assert list(snap.to_pandas("agents").agent_id) == ["a1", "a2"]
    assert list(Reducer().snapshot().to_pandas().columns)[:2] == ["task_id", "state"]
    with pytest.raises(ValueError, match="no table"):
        snap.records("nope")  # type: ignore[arg-type]


@pytest.mark.parametrize("enabled", [True, False])
def test_large_effects_decode_alike_and_leave_the_gc_as_it_was(enabled: bool) -> None:
    launches = [
        fx.LaunchTask(f"t{i}", "a1", "", [m.Resource("cpus", scalar=1.0)], b"") for i in range(3000)
    ]
    effects: list[fx.Effect] = [fx.Accept(["o1"], "a1", launches, 5.0), fx.Suppress()]
    data = msgspec.msgpack.encode(effects)
    assert len(data) > 1 << 16
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        assert decode_effects(data) == effects
        assert gc.isenabled() == enabled
    finally:
        if was:
            gc.enable()


def test_a_panic_in_the_core_is_an_internal_error_and_the_core_goes_on() -> None:
    r = launched()
    # A test hook: the next write panics inside the core, as a bug would.
    r._core._inject_panic()
    with pytest.raises(InternalError, match=r"panicked.*injected") as raised:
        r.step(m.Suppress(), 3.0)
    assert isinstance(raised.value, ArkError) and not isinstance(raised.value, ValueError)
    r._core._inject_panic()
    with pytest.raises(InternalError):
        r.step_batch([m.encode(m.Suppress())], 3.0)
    # Nothing was poisoned: the core still steps and reads.
    assert r.step(m.Suppress(), 3.0) == [fx.Suppress()]
    assert r.snapshot().suppressed and r.snapshot().task_count == 1


def test_a_panic_in_a_pump_does_not_end_the_scheduler_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    driver = RecordingDriver()
    scheduler = Scheduler(Manager(), (), driver, reconcile_seconds=None, tick_seconds=60.0)
    scheduler.start()
    try:
        scheduler.push(m.Subscribed("fw-1"))
        wait_until(lambda: scheduler.snapshot().registered)
        with caplog.at_level(logging.ERROR, logger="ark.scheduler"):
            scheduler._core._inject_panic()
            scheduler.push(m.Suppress())
            wait_until(lambda: "panicked" in caplog.text)
        assert "InternalError" in caplog.text
        assert scheduler.ask(Question("alive")).result(5).startswith("alive")
        scheduler.push(m.Suppress())
        wait_until(lambda: scheduler.snapshot().suppressed)
    finally:
        scheduler.shutdown()


def tracks(first: int, count: int) -> list[bytes]:
    return [m.encode(m.Track(f"t{i:06d}", f"a{i % 50}")) for i in range(first, first + count)]


def test_snapshots_from_other_threads_during_step_batch_see_whole_batches() -> None:
    r = Reducer()
    batch, batches = 2_000, 25
    counts: list[list[int]] = [[], [], []]
    failures: list[BaseException] = []
    done = threading.Event()

    def read(seen: list[int]) -> None:
        try:
            while not done.is_set():
                snap = r.snapshot()
                seen.append(snap.task_count)
                assert len(snap.tasks_on_agent("a0")) * 50 == snap.task_count
        except BaseException as e:
            failures.append(e)

    readers = [threading.Thread(target=read, args=(seen,)) for seen in counts]
    for t in readers:
        t.start()
    for k in range(batches):
        _, errors = r.step_batch(tracks(k * batch, batch), 1.0)
        assert not errors
    done.set()
    for t in readers:
        t.join(10)
    assert not failures, failures[:1]
    # Each read waited for the batch in progress: it saw whole batches, in order.
    for seen in counts:
        assert seen and all(c % batch == 0 for c in seen), sorted(set(seen))[:5]
        assert seen == sorted(seen)
    assert r.snapshot().task_count == batch * batches


def test_snapshots_and_steps_from_other_threads_while_the_core_pumps() -> None:
    r = Reducer()
    core, inbox = r._core, Inbox()
    failures: list[BaseException] = []
    stepped = 0

    def pump() -> None:
        nonlocal stepped
        try:
            while True:
                try:
                    *_, taken = core.pump(inbox, hooked=set(), max_messages=64, timeout=0.05)
                except InboxClosed:
                    return
                stepped += taken
        except BaseException as e:
            failures.append(e)

    loop = threading.Thread(target=pump)
    loop.start()
    try:
        seen = []
        for k in range(20):
            for data in tracks(k * 100, 100):
                inbox.push(data)
            seen.append(r.snapshot().task_count)
            # A write from another thread too, while the pump may hold the core.
            r.step(m.Suppress() if k % 2 else m.Revive(), 1.0)
        wait_until(lambda: r.snapshot().task_count == 2_000)
        assert seen == sorted(seen)
        # A pump that waits on an empty inbox does not hold the state.
        start = time.monotonic()
        r.snapshot()
        assert time.monotonic() - start < 0.04
    finally:
        inbox.close()
        loop.join(10)
    assert not failures, failures[:1]
    assert stepped == 2_000
