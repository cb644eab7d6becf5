"""The inbox end to end: 4 producer threads, one consumer stepping the core.

Producers push encoded messages from their own threads; the consumer drains
batches (GIL released while it waits) and steps them in the Rust core. For
comparison, the same run through a `queue.SimpleQueue` into the same core,
and into the Python reference.

    python bench/inbox.py [--messages 400000]
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import threading
import time
from collections.abc import Callable

from ark import ArkError, Inbox, Reducer, messages
from ark import reference as ref
from workload import encoded

PRODUCERS = 4
BATCH = 1024


def run_inbox(parts: list[list[bytes]], step: Callable[[list[bytes]], None]) -> float:
    inbox = Inbox()
    total = sum(map(len, parts))

    def produce(part: list[bytes]) -> None:
        for data in part:
            inbox.push(data)

    threads = [threading.Thread(target=produce, args=(p,)) for p in parts]
    start = time.perf_counter()
    for t in threads:
        t.start()
    seen = 0
    while seen < total:
        batch = inbox.drain(max_messages=BATCH, timeout=5.0)
        step(batch)
        seen += len(batch)
    elapsed = time.perf_counter() - start
    for t in threads:
        t.join()
    return elapsed


def run_queue(parts: list[list[bytes]], step: Callable[[list[bytes]], None]) -> float:
    q: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    total = sum(map(len, parts))

    def produce(part: list[bytes]) -> None:
        for data in part:
            q.put(data)

    threads = [threading.Thread(target=produce, args=(p,)) for p in parts]
    start = time.perf_counter()
    for t in threads:
        t.start()
    seen = 0
    while seen < total:
        batch = [q.get(timeout=5.0)]
        while len(batch) < BATCH:
            try:
                batch.append(q.get_nowait())
            except queue.Empty:
                break
        step(batch)
        seen += len(batch)
    elapsed = time.perf_counter() - start
    for t in threads:
        t.join()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=400_000)
    args = parser.parse_args()
    # Each producer has a stream of its own (its own ids), so that any
    # interleaving of the four is a valid stream; the consumer subscribes first.
    per = args.messages // PRODUCERS
    parts = [
        encoded(per, per // 10, seed, prefix=f"p{seed}-", subscribe=False, reconcile=False)
        for seed in range(PRODUCERS)
    ]
    n = sum(map(len, parts))
    subscribed = messages.encode(messages.Subscribed("framework-1"))

    def rust_step() -> Callable[[list[bytes]], None]:
        core = Reducer()._core
        core.step(subscribed, now=0.0)
        now = [0.0]

        def step(batch: list[bytes]) -> None:
            now[0] += 1.0
            core.step_batch(batch, now=now[0])

        return step

    def reference_step() -> Callable[[list[bytes]], None]:
        r = ref.Reducer()
        r.step_bytes(subscribed, 0.0)
        now = [0.0]

        def step(batch: list[bytes]) -> None:
            now[0] += 1.0
            for data in batch:
                # As the Rust batch does: a rejected message (a decline racing
                # an offer that expired, with 4 streams interleaved) changes nothing.
                with contextlib.suppress(ArkError):
                    r.step_bytes(data, now[0])

        return step

    rows = [
        ("ark Inbox -> Rust core", lambda: run_inbox(parts, rust_step())),
        ("queue.SimpleQueue -> Rust core", lambda: run_queue(parts, rust_step())),
        ("queue.SimpleQueue -> Python reference", lambda: run_queue(parts, reference_step())),
    ]
    print(f"inbox: {n:,} messages from {PRODUCERS} producer threads, one consumer")
    print(f"{'pipeline':<40} {'seconds':>8} {'messages/s':>12}")
    rates = []
    for name, run in rows:
        seconds = run()
        rates.append(n / seconds)
        print(f"{name:<40} {seconds:>8.2f} {n / seconds:>12,.0f}")
    print(f"ratio, ark Inbox + Rust / SimpleQueue + reference: {rates[0] / rates[2]:.1f}x")


if __name__ == "__main__":
    main()
