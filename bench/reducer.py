"""Reducer throughput: the Rust core against the pure-Python reference, one run.

Both step the same encoded stream (bench/workload.py) from bytes, as the loop
does. Prints messages/s for each and their ratio, plus the cost of a snapshot.

    python bench/reducer.py [--messages 1000000] [--tasks 100000] [--held-tasks 200000]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import msgspec

from ark import Reducer, messages
from ark import reference as ref
from workload import encoded

BATCH = 1024


def timed(run: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--held-tasks", type=int, default=200_000)
    parser.add_argument("--only-held", action="store_true", help="only the write-while-held rows")
    args = parser.parse_args()
    if args.only_held:
        write_while_held(args.held_tasks)
        return

    stream = encoded(args.messages, args.tasks)
    batches = [stream[i : i + BATCH] for i in range(0, len(stream), BATCH)]
    # The clock advances one second per 1,000 messages, so offers expire.
    clock = [i * BATCH / 1000 for i in range(len(batches))]

    def rust_batches() -> None:
        core = Reducer()
        for now, batch in zip(clock, batches, strict=True):
            _, errors = core.step_batch(batch, now)
            assert not errors, errors[:3]

    def rust_batches_raw() -> None:
        core = Reducer()._core
        for now, batch in zip(clock, batches, strict=True):
            core.step_batch(batch, now=now)

    def rust_one_by_one() -> None:
        core = Reducer()
        for now, batch in zip(clock, batches, strict=True):
            for data in batch:
                core.step_bytes(data, now)

    def reference_from_bytes() -> None:
        r = ref.Reducer()
        for now, batch in zip(clock, batches, strict=True):
            for data in batch:
                r.step_bytes(data, now)

    decoder = msgspec.msgpack.Decoder(messages.Message)
    decoded = [[decoder.decode(data) for data in batch] for batch in batches]

    def reference_decoded() -> None:
        r = ref.Reducer()
        for now, batch in zip(clock, decoded, strict=True):
            for message in batch:
                r.step(message, now)

    rows = [
        ("Rust core, step_batch, effects decoded to Python", rust_batches),
        ("Rust core, step_batch, effects left as bytes", rust_batches_raw),
        ("Rust core, step() per message", rust_one_by_one),
        ("Python reference, from bytes", reference_from_bytes),
        ("Python reference, messages already decoded", reference_decoded),
    ]
    n = len(stream)
    print(f"reducer: {n:,} messages over {args.tasks:,} tasks, batches of {BATCH}")
    print(f"{'implementation':<52} {'seconds':>8} {'messages/s':>12}")
    rates = {}
    for name, run in rows:
        seconds = timed(run)
        rates[name] = n / seconds
        print(f"{name:<52} {seconds:>8.2f} {n / seconds:>12,.0f}")
    rust = rates[rows[0][0]]
    best_reference = max(rates[rows[3][0]], rates[rows[4][0]])
    raw = rates[rows[1][0]]
    print(f"ratio, Rust (effects decoded) / fastest reference: {rust / best_reference:.1f}x")
    print(f"ratio, Rust (bytes out) / fastest reference: {raw / best_reference:.1f}x")

    # Snapshots: taken after every step in a busy loop, they must stay cheap.
    core = Reducer()
    for now, batch in zip(clock, batches, strict=True):
        core.step_batch(batch, now)
    takes = 10_000
    start = time.perf_counter()
    for _ in range(takes):
        core.snapshot()
    per_snapshot = (time.perf_counter() - start) / takes
    snap = core.snapshot()
    start = time.perf_counter()
    view = snap.view()
    full_view = time.perf_counter() - start
    print(
        f"snapshot of {len(view.tasks):,} tasks: {per_snapshot * 1e6:.2f} us to take, "
        f"{full_view * 1e3:.0f} ms to convert whole to Python"
    )
    write_while_held(args.held_tasks)


def write_while_held(tasks: int) -> None:
    """The cost of an update while a snapshot is held, as the Scheduler holds one.

    The Scheduler replaces its snapshot after every step, so a write can copy
    whatever the previous snapshot still shares; each timed step here is
    followed by taking a new snapshot (or not) in the same way. Timed in
    CPU time of this thread (the core steps on it), so that other processes
    on a shared machine do not count.
    """
    core = Reducer()
    tracks = [
        messages.encode(messages.Track(f"task-{i:07d}", f"agent-{i // 100}")) for i in range(tasks)
    ]
    for first in range(0, tasks, 10_000):
        core.step_batch(tracks[first : first + 10_000], 0.0)
    seq = iter(range(1, 1 << 62))

    def updates(count: int) -> list[bytes]:
        # Fresh uuids and timestamps, so that every update applies; tasks
        # spread over the whole map, as a storm of updates is.
        out = []
        for _ in range(count):
            k = next(seq)
            i = k * 7919 % tasks
            status = messages.TaskStatus(
                f"task-{i:07d}",
                "TASK_RUNNING",
                agent_id=f"agent-{i // 100}",
                source="SOURCE_EXECUTOR",
                uuid=k.to_bytes(16, "little"),
                timestamp=float(k),
            )
            out.append(messages.encode(messages.Update(status)))
        return out

    def per_update(batch: int, steps: int, hold: bool) -> float:
        work = [updates(batch) for _ in range(steps)]
        held = core.snapshot() if hold else None
        gc.collect()
        start = time.thread_time()
        for step in work:
            core.step_batch(step, 1.0)
            if hold:
                held = core.snapshot()
        seconds = time.thread_time() - start
        del held
        return seconds / steps

    print(f"write while a snapshot is held, {tasks:,} tasks")
    print(f"{'step':<24} {'no snapshot':>12} {'held':>12} {'ratio':>6}")
    for name, batch, steps in (("one Update", 1, 20_000), (f"batch of {BATCH}", BATCH, 100)):
        free = per_update(batch, steps, hold=False)
        held = per_update(batch, steps, hold=True)
        unit, scale = ("us", 1e6) if batch == 1 else ("ms", 1e3)
        print(
            f"{name:<24} {free * scale:>9.2f} {unit} {held * scale:>9.2f} {unit} "
            f"{held / free:>5.1f}x"
        )


if __name__ == "__main__":
    main()
