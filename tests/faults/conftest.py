"""Fixtures of the fault scenarios: a fast simulated cluster and a proxy in front of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from proxy import FaultProxy

from ark.sim import AgentShape, Cluster, ClusterConfig
from sim.sim_client import FAST, fast_config


def faults_config(**changes: object) -> ClusterConfig:
    """Three agents; offers come back after 1 s if a call about them was lost
    (Mesos's ``--offer_timeout``: without it a dropped ACCEPT or DECLINE
    holds the offer's resources until the framework fails over)."""
    timing = dataclasses.replace(FAST, offer_timeout=1.0)
    return fast_config(agents=(AgentShape(count=3, cpus=4, mem=1024),), timing=timing, **changes)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(faults_config()) as c:
        yield c


@pytest.fixture
def master_proxy(cluster: Cluster) -> Iterator[FaultProxy]:
    with FaultProxy(cluster.url, name="master") as proxy:
        yield proxy
