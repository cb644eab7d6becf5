"""A large group under a rolling update: Rust core against the reference.

A group of ``--tasks`` running copies of v1 is replaced by v2 (Marathon's
defaults for the floor and ceiling are too slow to start: 0.9 and 0.1 here,
so a tenth of the group turns over at a time). A scripted Mesos answers the
reducer: it offers one large agent (again after each task it kills, whose
resources come back), runs what is launched and kills what is killed, one
status update at a time. The steps are timed, ``--updates`` status updates
from the start of the deployment (each advances it) and the offers between
them (each runs a matching cycle over the new copies); the same stream runs
through both reducers, one after the other, and the ratios are printed.

    python bench/deployment.py [--tasks 10000] [--updates 2000]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import deque
from typing import Any, Protocol

from ark import Config, Reducer
from ark import effects as fx
from ark import messages as m
from ark import reference as ref

RESOURCES = [m.Resource("cpus", scalar=0.01), m.Resource("mem", scalar=1.0)]


class Stepper(Protocol):
    def step(self, message: m.Message, now: float) -> list[fx.Effect]: ...


def template(version: str) -> m.TaskRequest:
    return m.TaskRequest(version, resources=RESOURCES, group="web")


def offer(n: int, tasks: int) -> m.Offers:
    """One agent with room for the whole group twice over."""
    room = [m.Resource("cpus", scalar=0.02 * tasks + 1), m.Resource("mem", scalar=2.0 * tasks)]
    return m.Offers([m.Offer(f"o{n}", "a1", "h1", room)])


def update(task_id: str, state: str) -> m.Update:
    return m.Update(m.TaskStatus(task_id, state, agent_id="a1"))  # type: ignore[arg-type]


def launched(effects: list[fx.Effect]) -> list[str]:
    return [t.task_id for e in effects if isinstance(e, fx.Accept) for t in e.launches]


def killed(effects: list[fx.Effect]) -> list[str]:
    return [e.task_id for e in effects if isinstance(e, fx.Kill)]


def ready_group(reducer: Stepper, tasks: int) -> None:
    """v1 announced (a deployment of none, over at once), then ``tasks`` copies running."""
    reducer.step(m.Subscribed("fw"), 0.0)
    reducer.step(m.Deploy("web", template("v1"), 0), 0.0)
    copies = [m.TaskRequest(f"v1-{k}", resources=RESOURCES, group="web") for k in range(tasks)]
    reducer.step(m.Request(copies), 0.0)
    started = launched(reducer.step(offer(0, tasks), 0.0))
    assert len(started) == tasks, len(started)
    for task_id in started:
        reducer.step(update(task_id, "TASK_RUNNING"), 0.0)


def roll(reducer: Stepper, tasks: int, updates: int) -> tuple[float, float, int, list[Any]]:
    """Deploy v2 and answer it; the seconds spent stepping the first ``updates``
    updates, those spent stepping the offers between them, how many offers,
    and what was launched and killed (to check both reducers agree)."""
    reducer.step(
        m.Deploy(
            "web", template("v2"), tasks, minimum_health_capacity=0.9, maximum_over_capacity=0.1
        ),
        1.0,
    )
    to_run: deque[str] = deque()
    to_kill: deque[str] = deque()
    trace: list[Any] = []
    offers = 0
    seconds = offer_seconds = 0.0
    done = 0
    while done < updates:
        if to_run or to_kill:
            # Alternate, as a rolling update's updates come.
            if to_run and (done % 2 == 0 or not to_kill):
                message = update(to_run.popleft(), "TASK_RUNNING")
            else:
                message = update(to_kill.popleft(), "TASK_KILLED")
            start = time.perf_counter()
            effects = reducer.step(message, 2.0)
            seconds += time.perf_counter() - start
            done += 1
            to_kill.extend(killed(effects))
            if message.status.state == "TASK_KILLED":
                # Room for a new copy: the agent's resources come back offered.
                trace.append((launched(effects), killed(effects)))
                offers += 1
                start = time.perf_counter()
                effects = reducer.step(offer(offers, tasks), 2.0)
                offer_seconds += time.perf_counter() - start
                to_run.extend(launched(effects))
        else:
            offers += 1
            start = time.perf_counter()
            effects = reducer.step(offer(offers, tasks), 2.0)
            offer_seconds += time.perf_counter() - start
            to_run.extend(launched(effects))
            to_kill.extend(killed(effects))
            if not effects:
                break  # nothing more to do: the deployment is over
        trace.append((launched(effects), killed(effects)))
    assert done == updates, f"the deployment ended after {done} updates"
    return seconds, offer_seconds, offers, trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=2_000)
    args = parser.parse_args()
    print(
        f"deployment: {args.updates:,} updates of a group of {args.tasks:,} tasks "
        "under a rolling update"
    )
    print(f"{'implementation':<28} {'updates/s':>12} {'offers/s':>12}")
    rates: dict[str, tuple[float, float]] = {}
    traces = []
    for name, make in [("Rust core", Reducer), ("Python reference", ref.Reducer)]:
        reducer = make(Config())
        ready_group(reducer, args.tasks)
        gc.collect()
        seconds, offer_seconds, offers, trace = roll(reducer, args.tasks, args.updates)
        traces.append(trace)
        rates[name] = (args.updates / seconds, offers / offer_seconds)
        print(f"{name:<28} {rates[name][0]:>12,.0f} {rates[name][1]:>12,.0f}")
    assert traces[0] == traces[1], "the reducers launched or killed differently"
    rust, reference = rates["Rust core"], rates["Python reference"]
    print(
        f"ratio, Rust / reference: updates {rust[0] / reference[0]:.1f}x, "
        f"offers {rust[1] / reference[1]:.1f}x"
    )


if __name__ == "__main__":
    main()
