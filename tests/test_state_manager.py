"""Hooks: each event reaches its hook with the right fields; bad hooks are typed errors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ark import Reducer
from ark import messages as m
from ark.core import Snapshot
from ark.errors import HookError
from ark.state_manager import Reply, StateManager, Step, Unreconciled, apply_hook, hooked_types


class Ping(m.Custom):
    n: int


class Recorder(StateManager[tuple[str, ...]]):
    """Appends what each hook saw to the state, a tuple (immutable)."""

    def registered(self, state: tuple[str, ...], framework_id: str, framework: Snapshot) -> Step:
        return (*state, f"registered {framework_id}"), ()

    def status_update(
        self, state: tuple[str, ...], status: m.TaskStatus, framework: Snapshot
    ) -> Step:
        return (*state, f"{status.task_id} {status.state}"), [m.Kill(status.task_id)]

    def agent_lost(self, state: tuple[str, ...], agent_id: str, framework: Snapshot) -> Step:
        return (*state, f"agent {agent_id}"), ()

    def executor_lost(
        self,
        state: tuple[str, ...],
        executor_id: str,
        agent_id: str,
        status: int | None,
        framework: Snapshot,
    ) -> Step:
        return (*state, f"executor {executor_id}@{agent_id} {status}"), ()

    def custom(self, state: tuple[str, ...], message: m.Custom, framework: Snapshot) -> Step:
        assert isinstance(message, Ping)
        return (*state, f"ping {message.n}"), [Reply(message.n + 1)]

    def unreconciled(
        self, state: tuple[str, ...], task_ids: Sequence[str], framework: Snapshot
    ) -> Step:
        return (*state, f"unreconciled {','.join(task_ids)}"), ()


@pytest.fixture
def framework() -> Snapshot:
    return Reducer().snapshot()


def test_each_event_reaches_its_hook(framework: Snapshot) -> None:
    events: list[object] = [
        m.Subscribed("fw-1"),
        m.Update(m.TaskStatus("t1", "TASK_RUNNING", agent_id="a1")),
        m.Failure("a1"),
        m.Failure("a2", executor_id="e1", status=3),
        Ping(4),
        Unreconciled(["t2", "t3"]),
        m.Heartbeat(),
    ]
    state: tuple[str, ...] = ()
    commands = []
    for event in events:
        state, out = apply_hook(Recorder(), state, event, framework)
        commands += out
    assert state == (
        "registered fw-1",
        "t1 TASK_RUNNING",
        "agent a1",
        "executor e1@a2 3",
        "ping 4",
        "unreconciled t2,t3",
    )
    assert commands == [m.Kill("t1"), Reply(5)]


def test_only_overridden_hooks_are_hooked() -> None:
    assert hooked_types(StateManager()) == frozenset()
    assert hooked_types(Recorder()) == {m.Subscribed, m.Update, m.Failure}


class Broken(StateManager[int]):
    def status_update(self, state: int, status: m.TaskStatus, framework: Snapshot) -> Step:
        if status.task_id == "raise":
            raise KeyError("boom")
        if status.task_id == "none":
            return None  # type: ignore[return-value]
        if status.task_id == "str":
            return state, "Kill"  # type: ignore[return-value]
        return state, [object()]  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("task_id", "match"),
    [
        ("raise", "raised KeyError"),
        ("none", "returned NoneType, not \\(state, commands\\)"),
        ("str", "returned commands of type str"),
        ("object", "is not a command"),
    ],
)
def test_a_bad_hook_is_a_typed_error(framework: Snapshot, task_id: str, match: str) -> None:
    event = m.Update(m.TaskStatus(task_id, "TASK_RUNNING"))
    with pytest.raises(HookError, match=match):
        apply_hook(Broken(), 0, event, framework)
