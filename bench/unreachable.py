"""A rack lost: N placed tasks with an unreachable strategy go TASK_UNREACHABLE,
one Tick replaces them all, offers place the replacements, the rack comes back
and one copy of each is killed. Rust core against the reference, one run.

    python bench/unreachable.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from ark import Reducer
from ark import messages as m
from ark import reference as ref

CPU = [m.Resource("cpus", scalar=1.0)]
STRATEGY = m.UnreachableStrategy(10.0, 600.0)


def offers(prefix: str, agents: int, tasks: int) -> m.Offers:
    cpus = [m.Resource("cpus", scalar=float(tasks // agents + 1))]
    return m.Offers(
        [m.Offer(f"{prefix}{i}", f"{prefix}a{i}", f"{prefix}h{i}", cpus) for i in range(agents)]
    )


def run(reducer: Any, tasks: int) -> dict[str, float]:
    """Seconds per phase."""
    ids = [f"web-{i:06d}" for i in range(tasks)]
    reducer.step(m.Subscribed("fw"), 0.0)
    reducer.step(m.Request([m.TaskRequest(i, CPU, unreachable=STRATEGY) for i in ids]), 1.0)
    placed = reducer.step(offers("x", 100, tasks), 2.0)
    agent_of = {
        launch.task_id: e.agent_id
        for e in placed
        if hasattr(e, "launches")
        for launch in e.launches
    }
    times: dict[str, float] = {}
    gc.collect()
    start = time.perf_counter()
    for i in ids:
        reducer.step(m.Update(m.TaskStatus(i, "TASK_UNREACHABLE", agent_id=agent_of[i])), 100.0)
    times["unreachable updates"] = time.perf_counter() - start
    start = time.perf_counter()
    effects = reducer.step(m.Tick(), 110.0)
    times["Tick: replace all"] = time.perf_counter() - start
    assert effects and len(reducer.view().demand) == tasks
    start = time.perf_counter()
    reducer.step(offers("y", 100, tasks), 111.0)
    times["place replacements"] = time.perf_counter() - start
    start = time.perf_counter()
    kills = 0
    for i in ids:
        status = m.TaskStatus(i, "TASK_RUNNING", agent_id=agent_of[i])
        kills += len(reducer.step(m.Update(status), 112.0))
    times["back: kill copies"] = time.perf_counter() - start
    assert kills == tasks
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    rust = run(Reducer(), args.tasks)
    python = run(ref.Reducer(), args.tasks)
    print(f"{args.tasks} tasks      Rust core   reference")
    for phase in rust:
        print(f"{phase:<20} {rust[phase] * 1000:8.1f} ms {python[phase] * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
