"""The masters the conformance suite runs against: Ark's simulator, and a real
Apache Mesos (``../shared/mesos``, or any master named by ``ARK_TEST_MASTER``).

A check that passes on one and fails on the other is a simulator bug. Checks
that need the simulator's fault controls call ``master.require_sim(why)`` and
are skipped, with the reason, on a real master.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ark.sim import Cluster

REPO = Path(__file__).resolve().parents[2]


def _mesos_dist() -> Path:
    """Where start-mesos.sh and the Mesos tarball live: ``$ARK_MESOS_DIST``, else
    ``../shared/mesos`` beside the repo, else the team's copy (a clone made elsewhere)."""
    if "ARK_MESOS_DIST" in os.environ:
        return Path(os.environ["ARK_MESOS_DIST"])
    beside = REPO.parent / "shared" / "mesos"
    team = Path("/work/shared/mesos")
    return team if not beside.exists() and team.exists() else beside


MESOS_DIST = _mesos_dist()
#: ``host:port`` or ``zk://...`` of a master to judge the simulator instead of starting one.
TEST_MASTER = os.environ.get("ARK_TEST_MASTER", "")

#: The real master's intervals shrunk as the simulator's are in ``sim_client.FAST``
#: (Mesos reads any flag from ``MESOS_<FLAG>``; agents ignore the masters').
FAST_FLAGS = {
    "MESOS_ALLOCATION_INTERVAL": "50ms",
    "MESOS_ATTRIBUTES": "rack:r1;ssd:1",
}


@dataclass
class Master:
    """One master under test: ``url`` is ``http://host:port`` of the leader."""

    kind: str  # "sim" or "mesos"
    url: str
    cluster: Cluster | None = None  # the simulator's controls; None on a real master

    @property
    def is_sim(self) -> bool:
        return self.cluster is not None

    def require_sim(self, why: str) -> Cluster:
        """The simulator's controls, or skip: a real master cannot be made to ``why``."""
        if self.cluster is None:
            pytest.skip(f"simulator only: needs its fault controls to {why}")
        return self.cluster

    def get(self, path: str) -> Any:
        """GET ``path`` as JSON (following a standby's redirect is the caller's job)."""
        host, port = self.url.split("//", 1)[1].rstrip("/").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (path, resp.status, body[:200])
            return json.loads(body)
        finally:
            conn.close()

    def state(self) -> dict[str, Any]:
        """``/master/state`` of the leader (the simulator's, after a failover too)."""
        if self.cluster is not None:
            return self.cluster.state()
        state: dict[str, Any] = self.get("/master/state")
        return state

    def agents(self) -> list[dict[str, Any]]:
        """The registered agents as ``/master/state`` lists them."""
        agents: list[dict[str, Any]] = self.state()["slaves"]
        return agents

    def teardown_frameworks(self) -> None:
        """End every framework still registered, so the next test starts clean."""
        host, port = self.url.split("//", 1)[1].rstrip("/").split(":")
        for framework in self.get("/master/frameworks")["frameworks"]:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request(
                    "POST",
                    "/master/teardown",
                    f"frameworkId={framework['id']}",
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
                conn.getresponse().read()
            finally:
                conn.close()


def _free_port_block(size: int, copies: int = 1) -> int:
    """A port P with P..P+size free on loopback (a master and its agents), and
    as many more blocks at P+100, P+200, ... for ``copies`` masters.

    The ports are only probed here and bound later by start-mesos.sh, so
    pytest-xdist's workers (``gw0``, ``gw1``, ...) each search a range of their
    own: two workers starting a Mesos at once would otherwise pick one block."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = 15050 + 1000 * (int(worker) % 8)
    for base in range(first, 30000, 97):
        try:
            for copy in range(copies):
                for port in range(base + 100 * copy, base + 100 * copy + size):
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports for a Mesos master")


def _leader_url(address: str) -> str:
    if address.startswith("zk://"):
        from ark.drivers.detector import MasterDetector

        detector = MasterDetector(address)
        try:
            leader = detector.leader()
        finally:
            detector.close()
        if leader is None:
            raise RuntimeError(f"no leading master in {address}")
        return f"http://{leader[0]}:{leader[1]}"
    return f"http://{address}"


class RealMesos:
    """A real master (or ``masters`` of them electing a leader in ZooKeeper at
    ``zk``, a ``zk://`` URL) and its agents, started here; `stop` ends them all."""

    def __init__(self, agents: int = 2, *, masters: int = 1, zk: str | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="ark-mesos-")
        self.masters = masters
        env = dict(os.environ, **FAST_FLAGS)
        # Masters take P, P+100, P+200, ...; agents P+1, P+2, ...
        self.port = _free_port_block(agents + 1, masters)
        start = str(MESOS_DIST / "start-mesos.sh")
        args = [start, "--agents", str(agents), "--port", str(self.port), "--dir", self.dir]
        if zk is not None:
            args += ["--zk", zk, "--masters", str(masters)]
        out = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        if out.returncode != 0:
            self.stop()
            raise RuntimeError(f"start-mesos.sh failed: {out.stderr[-2000:]}")
        lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        #: What a driver is given: ``host:port``, or the ``zk://`` URL.
        self.address = lines["MESOS_MASTER"]

    @property
    def urls(self) -> list[str]:
        """Every master's ``http://host:port``, leading or not."""
        return [f"http://127.0.0.1:{self.port + 100 * i}" for i in range(self.masters)]

    def leader_url(self) -> str:
        """The leading master's URL, as the masters themselves name it."""
        for url in self.urls:
            try:
                leader = Master("mesos", url).get("/master/state")["leader"]
            except (OSError, AssertionError):
                continue  # Killed, or a standby that knows no leader yet.
            if leader:
                return "http://" + str(leader).split("@", 1)[1]
        raise RuntimeError("no leading master")

    def kill_leader(self) -> str:
        """SIGKILL the leading master; return the URL it served."""
        url = self.leader_url()
        index = self.urls.index(url)
        pid = int(Path(self.dir, "pids").read_text().split()[index])
        os.kill(pid, signal.SIGKILL)
        return url

    def stop(self) -> None:
        subprocess.run(
            [str(MESOS_DIST / "stop-mesos.sh"), self.dir], capture_output=True, check=False
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def real_master_address() -> str | None:
    """``ARK_TEST_MASTER`` if set; None when no real master can be had here."""
    if TEST_MASTER:
        return TEST_MASTER
    return None


def skip_reason() -> str | None:
    """Why no real master can take part, or None when one can."""
    if TEST_MASTER:
        return None
    if not (MESOS_DIST / "start-mesos.sh").exists():
        return (
            f"no real Mesos here: {MESOS_DIST}/start-mesos.sh is absent"
            " (set ARK_MESOS_DIST or ARK_TEST_MASTER)"
        )
    return None


@dataclass
class HaMasters:
    """Three masters electing a leader in ZooKeeper: the simulator's or real ones.

    ``address`` is the ``zk://`` URL a driver is given.
    """

    kind: str
    address: str
    cluster: Cluster | None = None
    real: RealMesos | None = None

    @property
    def urls(self) -> list[str]:
        """Every master, leading or not."""
        if self.cluster is not None:
            return list(self.cluster.urls)
        assert self.real is not None
        return self.real.urls

    def leader_url(self) -> str:
        if self.cluster is not None:
            return self.cluster.url
        assert self.real is not None
        return self.real.leader_url()

    def fail_leader(self) -> None:
        """End the leading master as a crash would (a real one: SIGKILL)."""
        if self.cluster is not None:
            self.cluster.failover_master()
        else:
            assert self.real is not None
            self.real.kill_leader()

    def leader(self) -> Master:
        """The leader as a `Master`, for its state."""
        return Master(self.kind, self.leader_url(), self.cluster)
