"""Pods in the reference reducer, written from ``docs/reducer.md`` (**Pods**).

A pod's members are tasks like any other; the reducer remembers each
member's pod, so that a Kill naming the pod kills every live member and a
pod counts once for its group's constraints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ark import effects as fx
from ark import messages as m
from ark.messages import TERMINAL_STATES

__all__ = ["claimed_ids", "kill_members"]


def claimed_ids(request: m.TaskRequest | m.Launch) -> Iterator[str]:
    """The ids a request or launch claims: its own, then its pod members'."""
    yield request.task_id
    for member in request.pod:
        yield member.task_id


def kill_members(
    pod_id: str, pods: Mapping[str, str], agents_and_states: Mapping[str, tuple[str | None, str]]
) -> list[fx.Effect] | None:
    """Kills of a pod's live members, in id order; None if no task is of that pod.

    ``agents_and_states`` gives each task's agent and state.
    """
    members = sorted(t for t, p in pods.items() if p == pod_id)
    if not members:
        return None
    out: list[fx.Effect] = []
    for task_id in members:
        agent_id, state = agents_and_states[task_id]
        if state not in TERMINAL_STATES:
            out.append(fx.Kill(task_id, agent_id))
    return out
