"""Wall-clock jumps, forward and back, under a running scheduler.

The scheduler runs in a process of its own under libfaketime, whose wall
clock the test steps by hours while its monotonic clock runs on. Held
offers must still be declined after ``offer_hold_seconds`` and
reconciliation must keep backing off at its pace: timers run on a
monotonic clock. Needs libfaketime (``apt-get install libfaketime``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxy import FaultProxy

from ark.sim import AgentShape, Cluster
from sim.sim_client import fast_config
from waiting import wait_until

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SCRIPT = Path(__file__).parent / "clock_process.py"


class ClockProcess:
    def __init__(self, master: str, workdir: Path) -> None:
        self.clock = workdir / "faketime"
        self.clock.write_text("+0\n")
        self.out = workdir / "clock.jsonl"
        env = {
            **os.environ,
            "LD_PRELOAD": str(FAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(self.clock),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }
        self.log = (workdir / "clock.out").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), master, str(self.out)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def jump(self, offset: str) -> float:
        """Set the wall clock's offset (libfaketime's ``+3600``, ``-3600``);
        returns the monotonic time it was set at."""
        self.clock.write_text(f"{offset}\n")
        return time.monotonic()

    def lines(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        text = self.out.read_text()
        return [json.loads(line) for line in text.splitlines()[:-1]]

    def since(self, moment: float) -> list[dict[str, Any]]:
        """Lines taken after the monotonic ``moment`` (one clock in both processes)."""
        return [line for line in self.lines() if line["monotonic"] > moment]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """No offer timeout here: only the scheduler's own clock may end a held offer."""
    with Cluster(fast_config(agents=(AgentShape(count=3, cpus=4, mem=1024),))) as c:
        yield c


@pytest.fixture
def clock_process(master_proxy: FaultProxy, tmp_path: Path) -> Iterator[ClockProcess]:
    if not FAKETIME.exists():
        pytest.skip("libfaketime is not installed")
    process = ClockProcess(master_proxy.address, tmp_path)
    try:
        yield process
    finally:
        process.close()


def test_timers_ignore_wall_clock_jumps(
    cluster: Cluster, master_proxy: FaultProxy, clock_process: ClockProcess
) -> None:
    p = clock_process
    wait_until(
        lambda: any(
            t["state"] == "TASK_RUNNING" for f in cluster.state()["frameworks"] for t in f["tasks"]
        ),
        20,
        "the task running",
    )
    # An offer held, then the wall clock an hour back: it is still declined
    # after 0.5 s, not an hour later.
    wait_until(lambda: any(line["offers"] for line in p.lines()[-2:]), 10, "an offer held")
    jumped = p.jump("-3600")
    wait_until(
        lambda: any(line["wall"] < time.time() - 3000 for line in p.since(jumped)), 5, "the jump"
    )
    wait_until(
        lambda: any(not line["offers"] for line in p.since(jumped + 0.1)), 3, "offers declined"
    )

    # Reconciliation that nobody answers backs off every 0.3 s: an hour
    # forward, then two back, the rounds keep their pace.
    master_proxy.drop("up")
    p.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: p.lines() and p.lines()[-1]["round"] >= 2, 5, "backing off")
    for offset in ("+3600", "-7200"):
        jumped = p.jump(offset)
        time.sleep(1.5)
        rounds = [line["round"] for line in p.since(jumped)]
        advanced = rounds[-1] - rounds[0]
        assert 3 <= advanced <= 7, (offset, rounds)
