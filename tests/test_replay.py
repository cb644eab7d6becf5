"""Replays: the same states and effects; moments, task histories, hooks, what-if, the CLI."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ark import _core, reference
from ark import effects as fx
from ark import messages as m
from ark.core import Snapshot
from ark.errors import ArkError
from ark.recorder import Recorder, Source, read_recording
from ark.replay import Replay, main, what_if
from ark.scheduler import Scheduler
from ark.state import Config
from ark.state_manager import Reply, StateManager, Step
from test_reducer_properties import CONFIG, TASKS, launches, offers, statuses, task_requests
from test_scheduler import RecordingDriver
from waiting import wait_until

UUID = b"u" * 16


class Want(m.Custom):
    """Ask the framework to run these tasks."""

    task_ids: list[str]


class Manager(StateManager[int]):
    """Requests the tasks it is asked for, kills those named ``*-bad`` once running."""

    def custom(self, state: int, message: m.Custom, framework: Snapshot) -> Step[int]:
        assert isinstance(message, Want)
        tasks = [
            m.TaskRequest(t, resources=[m.Resource("cpus", scalar=1.0)]) for t in message.task_ids
        ]
        return state + len(tasks), [m.Request(tasks), Reply(state + len(tasks))]

    def status_update(self, state: int, status: m.TaskStatus, framework: Snapshot) -> Step[int]:
        if status.state == "TASK_RUNNING" and status.task_id.endswith("-bad"):
            return state, [m.Kill(status.task_id)]
        return state, ()

    def unreconciled(self, state: int, task_ids: Sequence[str], framework: Snapshot) -> Step[int]:
        return state - len(task_ids), ()


class Lenient(Manager):
    """The fix: asks for one task less and lets bad ones run."""

    def custom(self, state: int, message: m.Custom, framework: Snapshot) -> Step[int]:
        assert isinstance(message, Want)
        return super().custom(state, Want(message.task_ids[:-1]), framework)

    def status_update(self, state: int, status: m.TaskStatus, framework: Snapshot) -> Step[int]:
        return state, ()


def offer(offer_id: str, agent_id: str) -> m.Offer:
    return m.Offer(offer_id, agent_id, f"h-{agent_id}", [m.Resource("cpus", scalar=4.0)])


def running(task_id: str, agent_id: str, uuid: bytes = UUID) -> m.Update:
    return m.Update(m.TaskStatus(task_id, "TASK_RUNNING", agent_id=agent_id, uuid=uuid))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RecordingDriver]:
    """A run with matching, a hook's kill, custom asks, a master failover and
    reconciliation rounds that end with tasks unreconciled."""
    path = tmp_path_factory.mktemp("run") / "recording"
    driver = RecordingDriver()
    config = Config(reconcile_base_seconds=0.02, reconcile_cap_seconds=0.05, reconcile_max_rounds=3)
    scheduler = Scheduler(
        Manager(),
        0,
        driver,
        config=config,
        reconcile_seconds=None,
        tick_seconds=0.05,
        recorder=Recorder(path),
    )
    scheduler.start()
    try:
        scheduler.push(m.Subscribed("fw-1"))
        wait_until(lambda: scheduler.snapshot().registered)
        assert scheduler.ask(Want(["t1", "t2", "t3-bad"])).result(5) == 3
        scheduler.push(m.Offers([offer("o1", "a1"), offer("o2", "a2")]))
        wait_until(lambda: scheduler.snapshot().task_count == 3)
        for task in ("t1", "t2", "t3-bad"):
            agent = scheduler.snapshot().task(task).agent_id  # type: ignore[union-attr]
            scheduler.push(running(task, agent or "?"))
        wait_until(lambda: len(driver.of(fx.Kill)) == 1)
        # The master fails over: the new one asks for a reconciliation that t1 answers.
        scheduler.push(m.Disconnected())
        scheduler.push(m.Reregistered("master-2"))
        wait_until(lambda: scheduler.snapshot().reconciliation_phase == "explicit")
        scheduler.push(running("t1", "a1", uuid=b"v" * 16))
        wait_until(lambda: scheduler.snapshot().reconciliation_phase == "idle", timeout=10)
        assert scheduler.ask(Want(["t4"])).result(5) == 2
    finally:
        scheduler.shutdown()
    return path, driver


def test_a_replay_gives_the_recorded_effects_byte_for_byte(
    recorded: tuple[Path, RecordingDriver],
) -> None:
    path, driver = recorded
    replay = Replay(path)
    assert replay.verify() == []
    # And the recorded effects are those the driver was given, in order.
    replayed = [
        e
        for s in replay.steps()
        for e in fx.decode_effects(s.effects)
        if not isinstance(e, (fx.Timer, fx.Unreconciled))
    ]
    assert replayed == driver.effects
    summary = replay.summary()
    assert summary.failovers == 1 and summary.disconnections == 1
    assert summary.explicit_reconciles == 3  # rounds 1, 2 and 3
    assert summary.reconciliations == 2
    assert "Accept" not in summary.messages and summary.messages["Request"] == 2
    assert summary.messages["Kill"] == 1 and summary.commands == 3
    assert summary.hooks == 3 + 1 + 2 + 1  # updates, t1's answer, asks, unreconciled


def test_a_replay_stops_at_an_index_or_a_time(recorded: tuple[Path, RecordingDriver]) -> None:
    replay = Replay(recorded[0])
    entries = replay.recording.entries
    failover = next(e for e in entries if e.message == m.encode(m.Reregistered("master-2")))
    moment = replay.at(failover.index)
    assert moment.index == failover.index and moment.now == failover.now
    assert moment.snapshot.reconciliation_phase == "explicit"
    assert moment.snapshot.reconciliation_round == 1
    # The Disconnected before it was stepped in the same batch, at the same now.
    before = replay.at(time=failover.now - 1e-3)
    assert before.now is not None and before.now < failover.now
    assert entries[before.index + 1].message == m.encode(m.Disconnected())
    assert before.snapshot.registered and before.snapshot.reconciliation_phase == "idle"
    assert replay.at(-1).snapshot.task_count == 0


def test_the_history_of_a_task(recorded: tuple[Path, RecordingDriver]) -> None:
    history = Replay(recorded[0]).task_history("t3-bad")
    kinds = [(e.source, e.message[0]) for e in history]
    assert kinds[0] == ("inbox", "Offers") or kinds[0] == ("command", "Request")
    assert ("command", "Kill") in kinds
    kill = next(e for e in history if e.message[0] == "Kill")
    assert [x[0] for x in kill.effects] == ["Kill"]
    assert history[-1].state == "TASK_RUNNING"  # the update never came: reconciliation flagged it
    assert Replay(recorded[0]).task_history("nope") == []


def test_what_the_hooks_returned(recorded: tuple[Path, RecordingDriver]) -> None:
    calls = Replay(recorded[0]).hooks()
    asks = [c for c in calls if c.source == "custom"]
    assert [c.replies for c in asks] == [[3], [2]]
    assert asks[0].commands[0][0] == "Request"
    unreconciled = [c for c in calls if c.source == "unreconciled"]
    assert unreconciled[0].event == ["t2", "t3-bad"]


def test_what_if_reports_the_first_difference_and_the_divergence(
    recorded: tuple[Path, RecordingDriver],
) -> None:
    same = what_if(recorded[0], Manager(), 0)
    assert same.first_difference is None and same.divergence == []
    assert same.state == 2 and same.recorded == same.replayed
    fixed = what_if(recorded[0], Lenient(), 0)
    first = fixed.first_difference
    assert first is not None
    assert first.event[0] == "CustomEnvelope"
    assert first.recorded[-1] == ["Reply", 3] and first.replayed[-1] == ["Reply", 2]
    # t3-bad was never asked for: it only becomes known when its update is adopted.
    assert any("t3-bad" in d.tasks for d in fixed.divergence)
    # Its RUNNING update adopts it, and the Kill that followed in the recorded run is gone.
    assert any(d.event[0] == "Update" and d.replayed == [] for d in fixed.differences)


def test_the_command_line(recorded: tuple[Path, RecordingDriver], capsys: Any) -> None:
    path = str(recorded[0])
    assert main([path]) == 0
    text = capsys.readouterr().out
    assert "failovers: 1" in text and "TASK_RUNNING" in text
    assert main([path, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["failovers"] == 1
    assert main([path, "--task", "t3-bad", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert any(e["message"][0] == "Kill" for e in history)
    assert main([path, "--at", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["index"] == 0
    assert main([path, "--hooks"]) == 0
    assert "Reply" not in capsys.readouterr().err
    assert main([path, "--verify"]) == 0
    assert main([str(recorded[0].parent / "none")]) == 2
    assert "no recording" in capsys.readouterr().err


# --- hypothesis: any message sequence, recorded in the loop, replays the same -----

messages = st.one_of(
    st.builds(m.Subscribed, framework_id=st.just("fw")),
    st.builds(m.Reregistered, master_id=st.just("m2")),
    st.builds(m.Offers, offers=st.lists(offers, max_size=3)),
    st.builds(m.Update, status=statuses),
    st.builds(m.Rescind, offer_id=st.sampled_from(["o0", "o1", "o2"])),
    st.builds(m.Failure, agent_id=st.sampled_from(["a0", "a1"])),
    st.builds(m.Disconnected),
    st.builds(m.ReconcileTick),
    st.builds(m.ReconcileTimeout, round=st.integers(1, 3)),
    st.builds(m.Tick),
    st.builds(m.Request, tasks=task_requests),
    st.builds(m.Withdraw, task_ids=st.lists(st.sampled_from(TASKS), max_size=2)),
    st.builds(m.Kill, task_id=st.sampled_from(TASKS)),
    st.builds(
        m.Accept, offer_ids=st.lists(st.sampled_from(["o0", "o1"]), max_size=2), launches=launches
    ),
)


@given(batches=st.lists(st.lists(messages, max_size=8), max_size=6))
def test_any_recorded_sequence_replays_the_same_in_both_reducers(
    batches: list[list[m.Message]],
) -> None:
    config = msgspec.msgpack.encode(CONFIG)
    core = _core.Core(config)
    core.record(True)
    inbox = _core.Inbox()
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(tmp)
        recorder.start(config)
        for batch in batches:
            for message in batch:
                inbox.push(m.encode(message))
            taken = 0
            while taken < len(batch):
                taken += core.pump(inbox, hooked=set(), timeout=0.0)[4]
            recorder.write(core.take_recording())
        recorder.close()
        recording = read_recording(tmp)
    sent = [message for batch in batches for message in batch]
    assert [m.decode(e.message) for e in recording.entries] == sent
    assert all(e.source is Source.INBOX for e in recording.entries)
    replay = Replay(recording)
    assert replay.verify() == []
    rust = replay.core()
    for _ in replay.steps(rust):
        pass
    assert Snapshot(rust.snapshot()).view() == Snapshot(core.snapshot()).view()
    # The reference steps the same recording to the same effects and state.
    python = reference.Reducer(CONFIG)
    for entry in recording.entries:
        try:
            effects = python.step_bytes(entry.message, entry.now)
        except ArkError:
            effects = []
        assert effects == fx.decode_effects(entry.effects)
    assert python.view() == Snapshot(core.snapshot()).view()
