"""The leader loses ZooKeeper, silently, while it keeps its master connection.

It must stop calling Mesos on SUSPENDED, before its session can expire and
another leader be elected; the standby takes over, and the old leader sends
nothing after the new term began (checked at the master's door).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checker import calls_after, wait_for_steady
from standby_pair import SchedulerProcess, epoch_began, leader, wait_for

from ark.sim import Cluster

SESSION = 2.0


@contextlib.contextmanager
def standby_pair(master: str, zookeeper: str, workdir: Path) -> Iterator[list[SchedulerProcess]]:
    """Two scheduler processes of one framework, each behind its own proxies."""
    path = f"/ark-faults-{uuid.uuid4().hex[:8]}"
    procs = [SchedulerProcess(f"s{i}", master, zookeeper, path, workdir, SESSION) for i in range(2)]
    try:
        yield procs
    finally:
        for p in procs:
            p.close()


def test_a_leader_cut_from_zookeeper_stops_calling_before_it_is_replaced(
    cluster: Cluster, zookeeper: str, tmp_path: Path
) -> None:
    with standby_pair(cluster.url, zookeeper, tmp_path) as pair:
        leader_cut_from_zookeeper(cluster, zookeeper, pair)


def leader_cut_from_zookeeper(
    cluster: Any, zookeeper: str, pair: list[SchedulerProcess], settle: float = 30
) -> None:
    """The scenario, on the simulator or a real Mesos (anything with ``state()``)."""
    assert wait_for(lambda: leader(pair) is not None, 30), "no leader"
    found = wait_for_steady(cluster, settle)
    assert not found, found
    old = leader(pair)
    assert old is not None
    new = next(p for p in pair if p is not old)
    framework_id = cluster.state()["frameworks"][0]["id"]

    old.zookeeper.silence()  # its master connection stays up
    cut = old.zookeeper.history[-1][0]
    assert wait_for(lambda: new.epochs(), 3 * SESSION + 10), "the standby never took over"
    fence = epoch_began(zookeeper, old.path)
    assert new.elections()[0][0] > old.epochs()[-1]

    found = wait_for_steady(cluster, settle)
    assert not found, found
    # Its session could expire SESSION after it was last heard (at the cut,
    # at the latest); it declines offers every 0.2 s until it stops.
    assert calls_after(old.master.requests, cut + SESSION) == [], "called as its session expired"
    assert calls_after(old.master.requests, fence) == [], "the deposed leader called Mesos"
    assert new.master.requests_after(fence), "the new leader never called"

    # Healed, the old leader is a standby again and still sends nothing.
    old.zookeeper.heal()
    assert not wait_for(lambda: calls_after(old.master.requests, fence), 3.0)
    assert [f["id"] for f in cluster.state()["frameworks"]] == [framework_id]
    assert not wait_for_steady(cluster, 10)
