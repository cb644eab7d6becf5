"""Updates per second while an agent is under maintenance, by policy.

The drain policy looks at an agent's tasks when one of them changes, while an
inverse offer for that agent is held. This measures that cost: ``tasks``
tasks on ``tasks // 100`` agents, then ``updates`` TASK_RUNNING updates on
random tasks (from bytes, as the loop steps them), with no inverse offer and
with one for the first agent (its window a day away: nothing is drained
yet). Rust core against the pure-Python reference, side by side in one run.

    python bench/maintenance.py [--tasks 20000] [--updates 20000]
"""

from __future__ import annotations

import argparse
import gc
import random
import time

from ark import Config, Reducer
from ark import messages as m
from ark import reference as ref
from workload import TASKS_PER_OFFER, stream

NOW = 1_000.0


def updates(tasks: int, count: int) -> list[m.Message]:
    rng = random.Random(2)
    agents = max(1, tasks // 100)
    out: list[m.Message] = []
    for _ in range(count):
        i = rng.randrange(tasks)
        agent = f"agent-{i // TASKS_PER_OFFER % agents}"
        uuid = rng.randbytes(16)
        out.append(m.Update(m.TaskStatus(f"task-{i}", "TASK_RUNNING", agent_id=agent, uuid=uuid)))
    return out


def rate(
    make: type[Reducer] | type[ref.Reducer], policy: str, held: bool, args: argparse.Namespace
) -> float:
    core = make(Config(maintenance=policy))  # type: ignore[arg-type]
    # Subscribed, an offer and its Accept per TASKS_PER_OFFER tasks, two updates per task.
    offers = -(-args.tasks // TASKS_PER_OFFER)
    setup = list(stream(1 + 2 * offers + 2 * args.tasks, args.tasks))
    for message in setup:
        core.step(message, NOW)
    if held:
        window = m.Unavailability(NOW + 86_400.0, 3_600.0)
        core.step(m.InverseOffers([m.InverseOffer("inverse-1", "agent-0", window)]), NOW)
    batch = [m.encode(u) for u in updates(args.tasks, args.updates)]
    gc.collect()
    start = time.perf_counter()
    for data in batch:
        core.step_bytes(data, NOW)
    return len(batch) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--updates", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{args.tasks} tasks on {max(1, args.tasks // 100)} agents, {args.updates} updates")
    print(f"{'policy':<34} {'Rust /s':>10} {'reference /s':>13} {'ratio':>7}")
    for policy, held, label in (
        ("ignore", False, "ignore"),
        ("drain", False, "drain, no inverse offer"),
        ("drain", True, "drain, one agent under maintenance"),
    ):
        rust = rate(Reducer, policy, held, args)
        python = rate(ref.Reducer, policy, held, args)
        print(f"{label:<34} {rust:>10,.0f} {python:>13,.0f} {rust / python:>6.1f}x")


if __name__ == "__main__":
    main()
