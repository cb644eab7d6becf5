"""A missing optional dependency is an ArkError that names the extra, raised where it is needed."""

from __future__ import annotations

import sys

import pytest

from ark import ArkError, MissingExtra
from ark.drivers import MasterDetector, PymesosDriver, V1Driver
from ark.election import LeaderElection


@pytest.fixture
def no_kazoo(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "kazoo" or n.startswith("kazoo.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kazoo", None)


@pytest.mark.usefixtures("no_kazoo")
def test_a_zk_master_without_kazoo_names_the_ha_extra() -> None:
    with pytest.raises(MissingExtra, match=r"pip install 'ark-mesos\[ha\]'") as caught:
        V1Driver("zk://127.0.0.1:2181/mesos", {"name": "x"})
    assert isinstance(caught.value, ArkError)
    assert isinstance(caught.value, ImportError)
    assert caught.value.name == "kazoo"


@pytest.mark.usefixtures("no_kazoo")
def test_an_election_without_kazoo_names_the_ha_extra() -> None:
    with pytest.raises(MissingExtra, match=r"leader election .*ark-mesos\[ha\]"):
        LeaderElection("127.0.0.1:2181", "/ark", lambda term: None, lambda: None)


@pytest.mark.usefixtures("no_kazoo")
def test_a_fixed_master_needs_no_kazoo() -> None:
    assert MasterDetector("127.0.0.1:5050").leader() == ("127.0.0.1", 5050)


def test_pymesos_missing_names_its_extra_and_the_311_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pymesos", None)
    with pytest.raises(MissingExtra, match=r"ark-mesos\[pymesos\].*3\.11\+.*http-parser"):
        PymesosDriver("127.0.0.1:5050", {"name": "x"})
