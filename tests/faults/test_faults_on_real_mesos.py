"""The partition scenarios against a real Apache Mesos, its master behind the proxies.

Runs only when ``ARK_TEST_MESOS`` names a directory with ``start-mesos.sh``
and ``stop-mesos.sh`` (as ``../shared/mesos`` has); the master listens on
``ARK_TEST_MESOS_PORT`` (7050), its three agents on the ports after it. A
real master's heartbeat is 15 s, so the watchdog scenario stays on the
simulator; the leader's ZooKeeper partition and a master that answers
calls with 503 run here.

    ARK_TEST_MESOS=../shared/mesos pytest tests/faults/test_faults_on_real_mesos.py
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from checker import wait_for_steady
from proxy import FaultProxy
from scheduler_process import SPEC
from test_leader_partition import leader_cut_from_zookeeper, standby_pair

from ark import Scheduler
from ark.drivers import V1Driver
from ark.examples.everywhere.framework import Everywhere, EverywhereManager

MESOS = os.environ.get("ARK_TEST_MESOS")
PORT = int(os.environ.get("ARK_TEST_MESOS_PORT", "7050"))

pytestmark = pytest.mark.skipif(not MESOS, reason="ARK_TEST_MESOS is not set")


class RealMesos:
    """A master and three agents from ``start-mesos.sh``, stopped by :meth:`stop`."""

    def __init__(self, home: Path, workdir: Path) -> None:
        self._home = home
        self.dir = workdir / "mesos"
        subprocess.run(
            [
                "bash",
                str(home / "start-mesos.sh"),
                "--agents",
                "3",
                "--port",
                str(PORT),
                "--dir",
                str(self.dir),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        self.url = f"http://127.0.0.1:{PORT}"

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/master/state", timeout=10) as r:
            state: dict[str, Any] = json.load(r)
            return state

    def stop(self) -> None:
        subprocess.run(["bash", str(self._home / "stop-mesos.sh"), str(self.dir)], check=False)


@pytest.fixture
def mesos(tmp_path: Path) -> Iterator[RealMesos]:
    assert MESOS is not None
    started = RealMesos(Path(MESOS).resolve(), tmp_path)
    try:
        yield started
    finally:
        started.stop()


def test_a_leader_cut_from_zookeeper_on_real_mesos(
    mesos: RealMesos, zookeeper: str, tmp_path: Path
) -> None:
    with standby_pair(mesos.url, zookeeper, tmp_path) as pair:
        leader_cut_from_zookeeper(mesos, zookeeper, pair, settle=60)


def test_a_silent_master_then_503s_on_real_mesos(mesos: RealMesos) -> None:
    with FaultProxy(mesos.url, name="master") as proxy:
        driver = V1Driver(
            proxy.address,
            {"name": "everywhere-faults", "user": "root"},
            backoff_seconds=0.05,
            backoff_cap_seconds=0.5,
            heartbeat_misses=1.0,  # Mesos heartbeats every 15 s
        )
        with Scheduler(EverywhereManager(SPEC), Everywhere(), driver, reconcile_seconds=2.0):
            found = wait_for_steady(mesos, 60)
            assert not found, found
            proxy.silence()
            time.sleep(20)  # past the watchdog: the driver gave the stream up
            assert driver.subscriptions >= 1
            proxy.answer(503)
            time.sleep(3)
            proxy.heal()
            found = wait_for_steady(mesos, 60)
            assert not found, found
