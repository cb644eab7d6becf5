"""The flight recorder's cost: the scheduler loop with recording off and on, side by side.

The same seeded stream (bench/workload.py) is queued in a scheduler's inbox
before it starts; the loop steps it in Rust with the calls going to a call
sender (no master: they are dropped), as a framework whose hooks want none of
these messages runs. Off and on alternate, best of ``--repeat`` each, in wall
time and in the process's CPU time (the loop, the writer thread and the call
sender: on a shared machine the steadier figure). Then
the recording is replayed (every message stepped again and its effects
compared with the recorded ones).

    python bench/recorder.py [--messages 200000] [--tasks 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ark import Inbox, StateManager
from ark import effects as fx
from ark import messages as m
from ark._core import CallSender
from ark.recorder import Recorder
from ark.replay import Replay
from ark.scheduler import Scheduler
from workload import stream, wait_until


class Driver:
    """Sends nothing: the core's calls go to a sender with no master, which drops them."""

    def __init__(self) -> None:
        self.calls = CallSender(lambda _: None)

    def start(self, inbox: Inbox, framework_id: str | None = None) -> None:
        pass

    def run(self, effects: Sequence[fx.Effect]) -> None:
        pass

    def stop(self, failover: bool) -> None:
        self.calls.close()


def run(messages: list[m.Message], recording: Path | None) -> tuple[float, float]:
    """Wall and CPU seconds for the loop to step every message (and the recording to be on disk)."""
    recorder = Recorder(recording) if recording is not None else None
    scheduler: Scheduler[None] = Scheduler(
        StateManager(), None, Driver(), reconcile_seconds=None, tick_seconds=3600, recorder=recorder
    )
    for message in messages:
        scheduler.push(message)

    def stepped() -> bool:
        core = scheduler.metrics.core
        return bool(core) and sum(core["messages"].values()) >= len(messages)

    start, cpu = time.perf_counter(), time.process_time()
    scheduler.start()
    wait_until(stepped, timeout=600)
    scheduler.shutdown()  # the loop ends once the writer has written everything
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    messages = list(stream(args.messages, args.tasks))
    n = len(messages)
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            off.append(run(messages, None))
            on.append(run(messages, Path(tmp) / f"run-{i}"))
        path = Path(tmp) / f"run-{args.repeat - 1}"
        size = sum(p.stat().st_size for p in path.glob("segment-*.rec"))
        start = time.perf_counter()
        replay = Replay(path)
        read = time.perf_counter() - start
        start = time.perf_counter()
        mismatches = replay.verify()
        replayed = time.perf_counter() - start
    print(f"recorder: {n:,} messages through the scheduler loop, best of {args.repeat}")
    print(f"{'loop':<16} {'wall s':>8} {'messages/s':>12} {'CPU s':>8} {'messages/CPU s':>15}")
    for name, runs in (("recording off", off), ("recording on", on)):
        wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
        print(f"{name:<16} {wall:>8.3f} {n / wall:>12,.0f} {cpu:>8.3f} {n / cpu:>15,.0f}")
    for i, what in ((0, "wall"), (1, "CPU")):
        ratio = min(r[i] for r in on) / min(r[i] for r in off)
        print(f"overhead in {what} time, on / off: {ratio:.3f}x ({(ratio - 1) * 100:+.1f}%)")
    print(f"recording: {size / 1e6:.1f} MB, {size / n:.0f} bytes per message")
    print(f"read back: {read:.3f} s, {n / read:,.0f} messages/s")
    print(
        f"replay (step + compare effects): {replayed:.3f} s, {n / replayed:,.0f} messages/s, "
        f"{len(mismatches)} mismatches"
    )


if __name__ == "__main__":
    main()
