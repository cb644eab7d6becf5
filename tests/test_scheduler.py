"""The scheduler loop, driven by hand through a recording driver.

End-to-end runs against the simulator with the real drivers are in
tests/drivers/; here the driver only records effects, so that each
ordering rule of the loop can be checked exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ark import Inbox
from ark import effects as fx
from ark import messages as m
from ark.core import Snapshot
from ark.errors import HookError
from ark.scheduler import NoReply, Scheduler
from ark.state import Config
from ark.state_manager import Reply, StateManager, Step
from waiting import wait_until

UUID = b"u" * 16


class RecordingDriver:
    def __init__(self) -> None:
        self.push: Callable[[bytes], None] | None = None
        self.effects: list[fx.Effect] = []
        self.stopped: bool | None = None
        self.lock = threading.Lock()

    calls = None  # every effect comes through run()

    def start(self, inbox: Inbox, framework_id: str | None = None) -> None:
        self.push = inbox.push

    def run(self, effects: Sequence[fx.Effect]) -> None:
        with self.lock:
            self.effects += effects

    def stop(self, failover: bool) -> None:
        self.stopped = failover

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [e for e in self.effects if isinstance(e, kind)]


class Question(m.Custom):
    text: str


class Manager(StateManager[tuple[str, ...]]):
    """Kills every task that reports TASK_RUNNING; answers questions."""

    def status_update(
        self, state: tuple[str, ...], status: m.TaskStatus, framework: Snapshot
    ) -> Step[tuple[str, ...]]:
        seen = (*state, f"{status.task_id} {status.state}")
        if status.state == "TASK_RUNNING":
            return seen, [m.Kill(status.task_id)]
        return seen, ()

    def custom(
        self, state: tuple[str, ...], message: m.Custom, framework: Snapshot
    ) -> Step[tuple[str, ...]]:
        assert isinstance(message, Question)
        if message.text == "raise":
            raise RuntimeError("asked to raise")
        if message.text == "silent":
            return state, ()
        return state, [Reply(f"{message.text}: {len(state)} updates, {framework.task_count} tasks")]

    def unreconciled(
        self, state: tuple[str, ...], task_ids: Sequence[str], framework: Snapshot
    ) -> Step[tuple[str, ...]]:
        return (*state, f"unreconciled {list(task_ids)}"), ()


def launch(scheduler: Scheduler[Any], task_id: str) -> None:
    cpus = m.Resource("cpus", scalar=1.0)
    scheduler.push(m.Offers([m.Offer(f"o-{task_id}", "a1", "h1", [cpus])]))
    scheduler.push(m.Accept([f"o-{task_id}"], [m.Launch(task_id, resources=[cpus])]))


@pytest.fixture
def driver() -> RecordingDriver:
    return RecordingDriver()


@pytest.fixture
def scheduler(driver: RecordingDriver) -> Any:
    # Reconciliation rounds of 20 ms, so that a test can watch them end.
    config = Config(reconcile_base_seconds=0.02, reconcile_cap_seconds=0.05, reconcile_max_rounds=3)
    s = Scheduler(Manager(), (), driver, config=config, reconcile_seconds=None, tick_seconds=0.05)
    s.start()
    yield s
    s.shutdown()


def register(scheduler: Scheduler[Any]) -> None:
    scheduler.push(m.Subscribed("fw-1"))
    # No task yet: reconciliation is one implicit round and ends at once.
    wait_until(lambda: scheduler.snapshot().reconciliation_phase == "idle")


def test_hook_commands_apply_before_the_next_message(
    scheduler: Scheduler[Any], driver: RecordingDriver
) -> None:
    register(scheduler)
    launch(scheduler, "t1")
    scheduler.push(m.Update(m.TaskStatus("t1", "TASK_RUNNING", agent_id="a1", uuid=UUID)))
    # Arrives after the RUNNING update: the hook's Kill must already be out.
    scheduler.push(m.Update(m.TaskStatus("t1", "TASK_KILLED", agent_id="a1", uuid=b"v" * 16)))
    wait_until(lambda: len(scheduler.state) == 2)
    assert scheduler.state == ("t1 TASK_RUNNING", "t1 TASK_KILLED")
    kinds = [type(e).__name__ for e in driver.effects if not isinstance(e, fx.Decline)]
    assert kinds[-4:] == ["Accept", "Acknowledge", "Kill", "Acknowledge"]
    assert scheduler.snapshot().tasks_by_state() == {"TASK_KILLED": ["t1"]}


def test_ask_gets_the_hooks_reply(scheduler: Scheduler[Any]) -> None:
    register(scheduler)
    launch(scheduler, "t1")
    assert scheduler.ask(Question("how many")).result(5) == "how many: 0 updates, 1 tasks"


def test_a_raising_hook_fails_the_ask_and_the_loop_goes_on(
    scheduler: Scheduler[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="ark.scheduler"),
        pytest.raises(HookError, match="asked to raise"),
    ):
        scheduler.ask(Question("raise")).result(5)
    assert "asked to raise" in caplog.text
    with pytest.raises(NoReply):
        scheduler.ask(Question("silent")).result(5)
    assert scheduler.ask(Question("still")).result(5).startswith("still")


def test_bad_bytes_and_rejected_commands_are_logged_not_fatal(
    scheduler: Scheduler[Any], driver: RecordingDriver, caplog: pytest.LogCaptureFixture
) -> None:
    assert driver.push is not None
    with caplog.at_level(logging.WARNING, logger="ark.scheduler"):
        driver.push(b"\x92\xa6Bogus!\x01")
        driver.push(b"not msgpack at all")
        scheduler.push(m.Accept(["no-such-offer"], [m.Launch("t9")]))
        assert scheduler.ask(Question("alive")).result(5).startswith("alive")
    assert "Bogus" in caplog.text
    assert "Accept" in caplog.text
    assert scheduler.snapshot().task_count == 0


def test_reconciliation_rounds_run_on_timers_and_report_the_silent(
    scheduler: Scheduler[Any], driver: RecordingDriver
) -> None:
    register(scheduler)
    launch(scheduler, "t1")
    scheduler.push(m.Update(m.TaskStatus("t1", "TASK_STARTING", agent_id="a1", uuid=UUID)))
    scheduler.push(m.Reconcile())
    # t1 never answers: three explicit rounds on the backoff timers, then reported.
    wait_until(lambda: any(s.startswith("unreconciled") for s in scheduler.state))
    assert scheduler.state[-1] == "unreconciled ['t1']"
    explicit = [r for r in driver.of(fx.Reconcile) if r.tasks]
    assert [t.task_id for r in explicit for t in r.tasks] == ["t1"] * 3


def test_ticks_decline_offers_held_too_long(driver: RecordingDriver) -> None:
    config = Config(offer_hold_seconds=0.0)
    s = Scheduler(Manager(), (), driver, config=config, reconcile_seconds=None, tick_seconds=0.02)
    with s:
        register(s)
        s.push(m.Offers([m.Offer("o1", "a1", "h1")]))
        wait_until(lambda: any("o1" in d.offer_ids for d in driver.of(fx.Decline)))
        assert s.snapshot().offer_count == 0


def test_shutdown_stops_the_driver_and_refuses_pushes(driver: RecordingDriver) -> None:
    s = Scheduler(Manager(), (), driver, reconcile_seconds=None)
    s.start()
    s.shutdown(failover=False)
    assert driver.stopped is False
    with pytest.raises(Exception, match="closed"):
        s.push(m.Heartbeat())


class OfferTaker(StateManager[tuple[str, ...]]):
    def offers(
        self, state: tuple[str, ...], offers: Sequence[m.Offer], framework: Snapshot
    ) -> Step[tuple[str, ...]]:
        return (*state, *(o.id for o in offers)), [m.Decline([o.id for o in offers])]


def test_the_offers_hook_sees_only_offers_the_core_kept(driver: RecordingDriver) -> None:
    config = Config(reconcile_base_seconds=60.0)
    with Scheduler(OfferTaker(), (), driver, config=config, reconcile_seconds=None) as s:
        s.push(m.Subscribed("fw-1"))
        s.push(m.Offers([m.Offer("o1", "a1", "h1")]))
        wait_until(lambda: s.state == ("o1",))
        # A task makes the next reconciliation explicit: offers meanwhile are declined.
        s.push(m.Update(m.TaskStatus("t1", "TASK_RUNNING", agent_id="a1")))
        s.push(m.Reconcile())
        s.push(m.Offers([m.Offer("o2", "a1", "h1")]))
        wait_until(lambda: any("o2" in d.offer_ids for d in driver.of(fx.Decline)))
        s.push(m.Update(m.TaskStatus("t1", "TASK_RUNNING", agent_id="a1")))
        wait_until(lambda: s.snapshot().reconciliation_phase == "idle")
        s.push(m.Offers([m.Offer("o3", "a1", "h1")]))
        wait_until(lambda: len(s.state) == 2)
        assert s.state == ("o1", "o3")


def test_metrics_count_what_the_loop_did(
    scheduler: Scheduler[Any], driver: RecordingDriver
) -> None:
    register(scheduler)
    launch(scheduler, "t1")
    scheduler.push(m.Update(m.TaskStatus("t1", "TASK_RUNNING", agent_id="a1", uuid=UUID)))
    scheduler.push(m.Accept(["no-such-offer"], [m.Launch("t9")]))
    wait_until(lambda: scheduler.metrics.snapshot()["rejected"] == 1)
    counts = scheduler.metrics.snapshot()
    assert counts["messages"]["Update"] == 1
    assert counts["messages"]["Accept"] == 2
    assert counts["effects"]["Acknowledge"] == 1
    assert counts["offers_accepted"] == 1
    assert counts["reconcile_rounds"]["implicit"] >= 1
    assert counts["tasks"] == 1
    text = scheduler.metrics.prometheus()
    assert 'ark_messages_total{type="Update"} 1.0\n' in text
    assert "# TYPE ark_batch_seconds summary\n" in text
    assert "ark_rejected_total 1.0\n" in text


def test_a_new_leader_reconciles_stored_tasks_before_taking_offers(
    driver: RecordingDriver, tmp_path: Any
) -> None:
    from ark.store import FileStore, Intent, Record

    store = FileStore(tmp_path / "store")
    store.save(Record("fw-1", {"t1": Intent("t1", "a1", confirmed=True), "t2": Intent("t2", "a2")}))
    taker = OfferTaker()
    with Scheduler(taker, (), driver, store=store, reconcile_seconds=None) as s:
        assert driver.push is not None
        s.push(m.Subscribed("fw-1"))
        s.push(m.Offers([m.Offer("o1", "a1", "h1")]))
        wait_until(lambda: driver.of(fx.Decline))
        explicit = [t.task_id for r in driver.of(fx.Reconcile) for t in r.tasks]
        assert explicit == ["t1", "t2"]
        assert driver.of(fx.Decline)[0].offer_ids == ["o1"]
        assert s.state == ()  # the hook never saw the offer
    store.close()


def test_the_store_is_written_before_the_launch_goes_out(
    driver: RecordingDriver, tmp_path: Any
) -> None:
    from ark.store import FileStore

    seen: list[Any] = []

    class Checking(RecordingDriver):
        def run(self, effects: Sequence[fx.Effect]) -> None:
            if any(isinstance(e, fx.Accept) for e in effects):
                seen.append(store.load())  # what is on disk now
            super().run(effects)

    checking = Checking()
    store = FileStore(tmp_path / "store")
    with Scheduler(Manager(), (), checking, store=store, reconcile_seconds=None) as s:
        register(s)
        launch(s, "t1")
        wait_until(lambda: checking.of(fx.Accept))
    (record,) = seen
    assert record.framework_id == "fw-1"
    assert list(record.intents) == ["t1"]
    store.close()
