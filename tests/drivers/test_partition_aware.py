"""Ark subscribes PARTITION_AWARE unless the framework's own ``capabilities`` say otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ark import Scheduler, StateManager
from ark.drivers import V1Driver
from ark.drivers.framework_info import framework_info
from ark.sim import Cluster
from sim.sim_client import fast_config
from waiting import wait_until


def test_partition_aware_by_default_and_a_given_list_is_taken_as_is() -> None:
    assert framework_info({})["capabilities"] == [{"type": "PARTITION_AWARE"}]
    assert framework_info({"capabilities": []})["capabilities"] == []
    own = [{"type": "TASK_KILLING_STATE"}]
    assert framework_info({"capabilities": own})["capabilities"] == own
    # Each call gets its own list: changing one never reaches the default.
    framework_info({})["capabilities"].append({"type": "MULTI_ROLE"})
    assert framework_info({})["capabilities"] == [{"type": "PARTITION_AWARE"}]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(fast_config()) as c:
        yield c


@pytest.mark.parametrize(
    ("info", "expected"),
    [({}, ["PARTITION_AWARE"]), ({"capabilities": []}, [])],
)
def test_the_master_sees_the_capability(
    cluster: Cluster, info: dict[str, object], expected: list[str]
) -> None:
    driver = V1Driver(cluster.url, {"name": "pa", "user": "test", **info})
    with Scheduler(StateManager[int](), 0, driver, reconcile_seconds=None):

        def capabilities() -> list[str] | None:
            frameworks = cluster.state()["frameworks"]
            return frameworks[0]["capabilities"] if frameworks else None

        assert wait_until(lambda: capabilities() is not None, 10, "subscribed") is not None
        assert capabilities() == expected
