"""What must hold after any fault, checked at the master (``/master/state``).

- one framework id throughout, never torn down;
- every task id launched at most once;
- exactly the intended tasks running: one copy of the example framework on
  every agent, none killed for being a second copy;
- no call sent by a deposed leader after its fence (see :func:`calls_after`).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

__all__ = ["calls_after", "framework_tasks", "violations", "wait_for_steady"]


def framework_tasks(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every task the master knows of, live, completed or unreachable."""
    return [
        t
        for f in state["frameworks"] + state["completed_frameworks"]
        for t in f["tasks"] + f["completed_tasks"] + f.get("unreachable_tasks", [])
    ]


def violations(state: dict[str, Any], agents: set[str] | None = None) -> list[str]:
    """What does not hold, in words; empty when everything does.

    ``agents``: those that must run one copy (default: every active agent).
    """
    found: list[str] = []
    ids = [f["id"] for f in state["frameworks"]]
    if len(ids) != 1:
        found.append(f"{len(ids)} frameworks: {ids}")
    if state["completed_frameworks"]:
        found.append(f"frameworks torn down: {[f['id'] for f in state['completed_frameworks']]}")
    tasks = framework_tasks(state)
    doubled = [i for i, n in Counter(t["id"] for t in tasks).items() if n > 1]
    if doubled:
        found.append(f"task ids launched twice: {doubled}")
    killed = [t["id"] for t in tasks if t["state"] == "TASK_KILLED"]
    if killed:
        found.append(f"second copies killed: {killed}")
    if agents is None:
        agents = {a["id"] for a in state["slaves"] if a.get("active", True)}
    running = Counter(t["slave_id"] for t in tasks if t["state"] == "TASK_RUNNING")
    wrong = {a: running.get(a, 0) for a in agents | set(running) if running.get(a, 0) != 1}
    if wrong:
        found.append(f"agents without exactly one running copy: {wrong}")
    return found


def wait_for_steady(cluster: Any, timeout: float, hold: float = 0.5) -> list[str]:
    """Wait until nothing is violated, and still nothing ``hold`` seconds later;
    returns the violations left at the deadline (empty: it held)."""
    deadline = time.monotonic() + timeout
    while True:
        found = violations(cluster.state())
        if not found:
            time.sleep(hold)
            found = violations(cluster.state())
            if not found:
                return []
        if time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def calls_after(requests: list[tuple[float, str]], fence: float) -> list[float]:
    """The times of the calls (seen at the master's door) after ``fence``."""
    return [t for t, _ in requests if t > fence]
