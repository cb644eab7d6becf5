"""Fixtures: a fast simulated cluster per test, torn down after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_client import fast_config

from ark.sim import Cluster


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A running two-agent cluster with one master."""
    with Cluster(fast_config()) as c:
        yield c
