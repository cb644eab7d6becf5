"""Masters in a real ZooKeeper (Debian's package, started here on loopback).

Skipped only when ZooKeeper is not installed (``.ci/install-zookeeper.sh``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sim_client import Subscriber, fast_config

from ark.sim import Cluster
from waiting import wait_until
from zookeeper_server import INSTALLED

pytestmark = pytest.mark.skipif(
    not INSTALLED, reason="ZooKeeper is not installed (run .ci/install-zookeeper.sh)"
)


@pytest.fixture
def zk_cluster(zookeeper: str) -> Iterator[Cluster]:
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    with Cluster(fast_config(masters=3, zk_hosts=zookeeper, zk_path=path)) as c:
        yield c


def _znodes(hosts: str, path: str) -> dict[str, bytes]:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=hosts, timeout=10)
    client.start(10)
    try:
        return {child: client.get(f"{path}/{child}")[0] for child in client.get_children(path)}
    finally:
        client.stop()
        client.close()


def test_masters_register_like_mesos(zk_cluster: Cluster, zookeeper: str) -> None:
    path = zk_cluster.config.zk_path
    nodes = _znodes(zookeeper, path)
    assert "log_replicas" in nodes
    infos = sorted(n for n in nodes if n != "log_replicas")
    assert len(infos) == 3
    assert all(n.startswith("json.info_") and len(n) == len("json.info_") + 10 for n in infos)
    leader = json.loads(nodes[infos[0]])
    for name in infos:
        info = json.loads(nodes[name])
        assert {"id", "ip", "port", "pid", "hostname", "version", "address"} <= set(info)
        assert info["address"]["ip"] == "127.0.0.1"
    assert zk_cluster.url == f"http://127.0.0.1:{leader['address']['port']}"
    assert zk_cluster.zk_url == f"zk://{zookeeper}{path}"


def test_failover_elects_the_next_lowest_sequence(zk_cluster: Cluster, zookeeper: str) -> None:
    path = zk_cluster.config.zk_path
    before = sorted(n for n in _znodes(zookeeper, path) if n != "log_replicas")
    old_leader_url = zk_cluster.url
    new_url = zk_cluster.failover_master()
    assert new_url != old_leader_url

    def restarted() -> bool:
        names = sorted(n for n in _znodes(zookeeper, path) if n != "log_replicas")
        return len(names) == 3 and before[0] not in names

    wait_until(restarted, what="old master back with a new znode")
    nodes = _znodes(zookeeper, path)
    names = sorted(n for n in nodes if n != "log_replicas")
    assert names[:2] == before[1:]
    assert new_url == f"http://127.0.0.1:{json.loads(nodes[names[0]])['address']['port']}"
    sub = Subscriber(new_url)
    try:
        sub.wait_offer()
    finally:
        sub.close()


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("pymesos") is None, reason="pymesos is not installed"
)
def test_pymesos_detects_the_leader_through_zookeeper(zk_cluster: Cluster) -> None:
    from test_pymesos import Recorder, driver_for

    sched = Recorder()
    zk_url = zk_cluster.zk_url
    assert zk_url is not None
    driver = driver_for(sched, zk_url)
    driver.start()
    try:
        wait_until(sched.registered_, what="registered via ZooKeeper")
        wait_until(lambda: "TASK_RUNNING" in sched.states("task-0"), what="task running")
        zk_cluster.failover_master()
        wait_until(lambda: sched.resubscriptions, what="re-registered with the new leader")
        wait_until(zk_cluster.recovered, what="agents back")
        driver.reconcileTasks([])
        wait_until(lambda: sched.states("task-0").count("TASK_RUNNING") >= 2, what="reconciled")
    finally:
        detector = driver.detector
        driver.stop()
        driver.join()
        # pymesos stops its kazoo client but never closes it, leaking kazoo's socket pair.
        if detector is not None:
            detector.zk.close()
