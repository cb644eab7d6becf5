"""Fixtures: a fast simulated cluster per test, and the ``master`` each
conformance check runs against (the simulator, then a real Mesos)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from masters import (
    MESOS_DIST,
    HaMasters,
    Master,
    RealMesos,
    _leader_url,
    real_master_address,
    skip_reason,
)
from sim_client import fast_config

from ark.sim import Cluster


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A running two-agent cluster with one master."""
    with Cluster(fast_config()) as c:
        yield c


@pytest.fixture(scope="session")
def real_mesos() -> Iterator[str]:
    """``host:port`` (or ``zk://``) of a real master with two agents, for the session."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    address = real_master_address()
    if address is not None:
        yield address
        return
    mesos = RealMesos()
    try:
        yield mesos.address
    finally:
        mesos.stop()


@pytest.fixture(params=["sim", "mesos"])
def master(request: pytest.FixtureRequest) -> Iterator[Master]:
    """The simulator (a fresh cluster), then a real Mesos (shared, its frameworks torn down)."""
    if request.param == "sim":
        with Cluster(fast_config()) as c:
            yield Master("sim", c.url, c)
        return
    address = request.getfixturevalue("real_mesos")
    real = Master("mesos", _leader_url(address))
    real.teardown_frameworks()
    try:
        yield real
    finally:
        real.teardown_frameworks()


@pytest.fixture(params=["sim", "mesos"])
def ha_master(request: pytest.FixtureRequest, zookeeper: str) -> Iterator[HaMasters]:
    """Three masters and two agents in a fresh ZooKeeper path: simulated, then real."""
    zk = f"zk://{zookeeper}/mesos-{uuid.uuid4().hex[:8]}"
    if request.param == "sim":
        path = zk.removeprefix(f"zk://{zookeeper}")
        with Cluster(fast_config(masters=3, zk_hosts=zookeeper, zk_path=path)) as c:
            yield HaMasters("sim", zk, cluster=c)
        return
    if not (MESOS_DIST / "start-mesos.sh").exists():
        pytest.skip(f"no real Mesos here: {MESOS_DIST}/start-mesos.sh is absent")
    real = RealMesos(masters=3, zk=zk)
    try:
        yield HaMasters("mesos", zk, real=real)
    finally:
        real.stop()
