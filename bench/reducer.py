"""Reducer throughput: the Rust core against the pure-Python reference, one run.

Both step the same encoded stream (bench/workload.py) from bytes, as the loop
does. Prints messages/s for each and their ratio, plus the cost of a snapshot.

    python bench/reducer.py [--messages 1000000] [--tasks 100000]
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
