"""The scheduler of the clock test, run under libfaketime (its wall clock jumps).

    python tests/faults/clock_process.py MASTER OUT

Launches one task, then holds every offer without answering it (the core
declines each after ``offer_hold_seconds``). SIGUSR1 starts a
reconciliation. Every 0.05 s appends a JSON line to OUT: the monotonic and
wall clocks, the offers held and the reconciliation round. Runs until SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Sequence

from ark import Config, Scheduler, StateManager, Step
from ark import messages as m
from ark.core import Snapshot
from ark.drivers import V1Driver
from ark.wire import task_payload

HOLD = 0.5


class HoldOffers(StateManager[int]):
    def offers(self, state: int, offers: Sequence[m.Offer], framework: Snapshot) -> Step[int]:
        if state:
            return state, ()
        small = [m.Resource("cpus", scalar=0.1), m.Resource("mem", scalar=32.0)]
        launch = m.Launch("clock-0", resources=small, payload=task_payload("sleep 3600"))
        return 1, [m.Accept([offers[0].id], [launch])]


def main() -> None:
    master, out = sys.argv[1:3]
    config = Config(
        offer_hold_seconds=HOLD,
        offer_refuse_seconds=0.2,
        reconcile_base_seconds=0.3,
        reconcile_factor=1.0,
        reconcile_max_rounds=1000,
    )
    driver = V1Driver(master, {"name": "clock", "user": "test"})
    scheduler = Scheduler(
        HoldOffers(), 0, driver, config=config, reconcile_seconds=None, tick_seconds=0.1
    ).start()
    signal.signal(signal.SIGUSR1, lambda *_: scheduler.push(m.ReconcileTick()))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with open(out, "a") as f:
        while not done.wait(0.05):
            s = scheduler.snapshot()
            line = {
                "monotonic": time.monotonic(),
                "wall": time.time(),
                "offers": s.offer_count,
                "round": s.reconciliation_round,
                "phase": s.reconciliation_phase,
            }
            f.write(json.dumps(line) + "\n")
            f.flush()
    scheduler.shutdown()


if __name__ == "__main__":
    main()
