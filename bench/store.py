"""The store's write cost per launch batch, by framework size.

For a store already holding N intents, each batch launches 100 tasks and
drops 100 ended ones (a framework at steady state). Two ways to write it:

* rewrite: the whole record, every batch (``Store.save``; what Ark did
  before the log, and what a compaction does);
* delta: only the change (``Store.apply``; compactions included, amortized).

In a file (fsynced) and in a real ZooKeeper. Run by an older Ark (one
record, ``save`` only) it prints the rewrite column alone: that is the
"before", where ZooKeeper's one znode fails above about 12,000 intents
(the 1 MiB znode limit).

    python bench/store.py [--tasks 1000 100000] [--batches 50]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ark.election import LeaderElection, Term  # noqa: E402
from ark.store import FileStore, Intent, Record, ZooKeeperStore  # noqa: E402
from zookeeper_server import ZooKeeperServer  # noqa: E402

BATCH = 100


def intent(i: int) -> Intent:
    return Intent(f"task-{i:07d}", f"agent-{i % 1000}", confirmed=True)


def measure(store: FileStore | ZooKeeperStore, tasks: int, batches: int, delta: bool) -> str:
    """Milliseconds per batch, or why it failed."""
    if delta and not hasattr(store, "apply"):
        return "-"
    try:
        return f"{_measure(store, tasks, batches, delta):.2f}"
    except Exception as exc:
        return f"fails: {type(exc).__name__}"


def _measure(store: FileStore | ZooKeeperStore, tasks: int, batches: int, delta: bool) -> float:
    live = {intent(i).task_id: intent(i) for i in range(tasks)}
    store.save(Record("fw", live))
    store.load()
    started = time.perf_counter()
    for b in range(batches):
        added = [intent(tasks + b * BATCH + i) for i in range(BATCH)]
        removed = [intent(b * BATCH + i).task_id for i in range(BATCH)]
        for task_id in removed:
            del live[task_id]
        live.update((i.task_id, i) for i in added)
        if delta:
            store.apply(None, added, removed)
        else:
            store.save(Record("fw", live))
    return (time.perf_counter() - started) / batches * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    server = ZooKeeperServer().start()
    terms: list[Term] = []
    election = LeaderElection(server.hosts, "/bench-store", terms.append, lambda: None)
    try:
        election.start()
        while not terms:
            time.sleep(0.01)
        print(f"store write per batch ({BATCH} launches + {BATCH} ended), ms")
        print(f"{'tasks':>8} {'store':>10} {'rewrite':>9} {'delta':>9}")
        with tempfile.TemporaryDirectory() as tmp:
            for tasks in args.tasks:
                makers: list[tuple[str, Callable[[], FileStore | ZooKeeperStore]]] = [
                    ("file", lambda: FileStore(Path(tmp) / uuid.uuid4().hex)),
                    (
                        "zookeeper",
                        lambda: ZooKeeperStore(
                            election.client, f"/bench-store/{uuid.uuid4().hex}", terms[0]
                        ),
                    ),
                ]
                for name, make in makers:
                    rewrite = measure(make(), tasks, max(3, args.batches // 10), delta=False)
                    delta = measure(make(), tasks, args.batches, delta=True)
                    print(f"{tasks:>8} {name:>10} {rewrite:>9} {delta:>9}")
    finally:
        election.stop()
        server.close()


if __name__ == "__main__":
    main()
