"""Memory held per task: the Rust core against the reference, one run.

Each implementation loads the same tasks in a fresh child process (launched,
then one agent update each, with a uuid, reason and timestamp, as a running
task has); the figure is the growth of the resident set divided by the tasks.

    python bench/memory.py [--tasks 1000000]
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
from collections.abc import Iterator

from ark import messages as m

CHUNK = 10_000
PER_OFFER = 1_000


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def chunks(tasks: int) -> Iterator[list[bytes]]:
    """The load, encoded, a chunk at a time so that little garbage builds up."""
    yield [m.encode(m.Subscribed("framework-1"))]
    cpus = m.Resource("cpus", scalar=float(PER_OFFER))
    for first in range(0, tasks, CHUNK):
        batch = []
        for start in range(first, min(first + CHUNK, tasks), PER_OFFER):
            agent = f"agent-{start // PER_OFFER % 10_000}"
            offer = f"offer-{start}"
            batch.append(m.encode(m.Offers([m.Offer(offer, agent, agent, [cpus])])))
            launches = [
                m.Launch(f"task-{i:07d}", resources=[m.Resource("cpus", scalar=1.0)])
                for i in range(start, min(start + PER_OFFER, tasks))
            ]
            batch.append(m.encode(m.Accept([offer], launches)))
        yield batch
    for first in range(0, tasks, CHUNK):
        yield [
            m.encode(
                m.Update(
                    m.TaskStatus(
                        f"task-{i:07d}",
                        "TASK_RUNNING",
                        agent_id=f"agent-{i // PER_OFFER % 10_000}",
                        reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
                        source="SOURCE_EXECUTOR",
                        uuid=i.to_bytes(16, "little"),
                        timestamp=float(i),
                    )
                )
            )
            for i in range(first, min(first + CHUNK, tasks))
        ]


def measure(implementation: str, tasks: int) -> None:
    if implementation == "rust":
        from ark import Reducer as Implementation
    else:
        from ark.reference import Reducer as Implementation  # type: ignore[assignment]
    reducer = Implementation()
    gc.collect()
    before = rss_bytes()
    for batch in chunks(tasks):
        for data in batch:
            reducer.step_bytes(data, 1.0)
    gc.collect()
    grown = rss_bytes() - before
    print(grown / tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["rust", "reference"])
    args = parser.parse_args()
    if args.child:
        measure(args.child, args.tasks)
        return
    print(f"memory held per task, {args.tasks:,} running tasks")
    print(f"{'implementation':<20} {'bytes/task':>10}")
    results = {}
    for implementation in ("rust", "reference"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", implementation, "--tasks", str(args.tasks)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[implementation] = float(out.strip())
        print(f"{implementation:<20} {results[implementation]:>10.0f}")
    print(f"ratio, reference / Rust: {results['reference'] / results['rust']:.1f}x")


if __name__ == "__main__":
    main()
