"""Task states, reasons and the ``TaskStatus`` records the simulator sends."""

from __future__ import annotations

import time
from typing import Any

from ark.messages import TERMINAL_STATES

__all__ = ["TERMINAL_STATES", "is_terminal", "make_status"]

#: Outcomes a task may be told to end with through its ``ark.sim/outcome`` label.
OUTCOMES = frozenset({"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST"})


def is_terminal(state: str) -> bool:
    """Whether ``state`` is terminal.

    TASK_LOST is, although a partitioned agent that returns may bring the
    task back to life, as in Mesos.
    """
    return state in TERMINAL_STATES


def make_status(
    task_id: str,
    state: str,
    *,
    agent_id: str | None,
    source: str,
    reason: str | None = None,
    message: str | None = None,
    uuid: str | None = None,
    executor_id: str | None = None,
    unreachable_time: float | None = None,
    healthy: bool | None = None,
) -> dict[str, Any]:
    """A v1 JSON ``TaskStatus``; ``uuid`` is base64, as JSON encodes bytes.

    ``unreachable_time`` (seconds since the epoch) is when the task's agent
    was marked unreachable, sent as a ``TimeInfo``.
    """
    status: dict[str, Any] = {
        "task_id": {"value": task_id},
        "state": state,
        "source": source,
        "timestamp": time.time(),
    }
    if agent_id is not None:
        status["agent_id"] = {"value": agent_id}
    if executor_id is not None:
        status["executor_id"] = {"value": executor_id}
    if reason is not None:
        status["reason"] = reason
    if message is not None:
        status["message"] = message
    if uuid is not None:
        status["uuid"] = uuid
    if healthy is not None:
        status["healthy"] = healthy
    if unreachable_time is not None:
        status["unreachable_time"] = {"nanoseconds": int(unreachable_time * 1e9)}
    return status
