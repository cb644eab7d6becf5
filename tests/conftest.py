import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from zookeeper_server import INSTALLED, ZooKeeperServer

# Profiles as polars has them: quick locally, thorough in CI (HYPOTHESIS_PROFILE=ci).
settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


requires_zookeeper = pytest.mark.skipif(
    not INSTALLED, reason="ZooKeeper is not installed (run .ci/install-zookeeper.sh)"
)


@pytest.fixture(scope="session")
def zookeeper() -> Iterator[str]:
    """One ZooKeeper for the whole run; yields ``host:port``. Tests use their own paths."""
    if not INSTALLED:
        pytest.skip("ZooKeeper is not installed (run .ci/install-zookeeper.sh)")
    server = ZooKeeperServer().start()
    try:
        yield server.hosts
    finally:
        server.close()
