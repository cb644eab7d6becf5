"""One scheduler process of the HA tests: a Standby running the keep-N framework.

    python tests/ha/keep_n_process.py MASTER ZK_HOSTS PATH N LOG [SESSION_TIMEOUT]

Writes ``elected <epoch>`` to LOG each time it leads; runs until SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "drivers"))

from framework import KeepN, slots

from ark import Scheduler
from ark.drivers import V1Driver
from ark.election import Term
from ark.high_availability import Standby
from ark.store import Store


def main() -> None:
    master, zk_hosts, path, n, log_path = sys.argv[1:6]
    session_timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s [{Path(log_path).stem}] %(name)s %(message)s"
    )
    log = Path(log_path)

    def make(store: Store, on_fenced: object, term: Term) -> Scheduler[object]:
        with log.open("a") as f:
            f.write(f"elected {term.epoch}\n")
        driver = V1Driver(master, {"name": "keep-n-ha", "user": "test"}, backoff_seconds=0.05)
        return Scheduler(
            KeepN(prefix=f"e{term.epoch}-"),
            slots(int(n)),
            driver,
            store=store,
            on_fenced=on_fenced,  # type: ignore[arg-type]
            reconcile_seconds=None,
        )

    standby = Standby(
        zk_hosts, path, make, identity=log.stem, session_timeout=session_timeout
    ).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    standby.stop()


if __name__ == "__main__":
    main()
