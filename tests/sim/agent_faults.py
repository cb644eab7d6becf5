"""Agent faults done to either master: the simulator's controls, or signals to
a real agent's process.

A real agent is killed with SIGKILL (its socket closes: a disconnection) and
partitioned with SIGSTOP (it stops answering pings, its tasks keep running;
SIGCONT heals it, and it re-registers on its own). Those faults would break
the session's shared master, so `FaultyMaster` starts a real master of the
test's own, with ping timeouts short enough to wait for (from ``../shared/mesos``
even when ``ARK_TEST_MASTER`` names another master: signals need local agents).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from masters import FAST_FLAGS, MESOS_DIST, Master, _free_port_block
from sim_client import fast_config, request

from ark.sim import Cluster

#: A real agent is marked unreachable after 2 unanswered pings 1 s apart (the least
#: Mesos allows; the simulator's ``FAST`` timing waits 0.2 s).
PING_FLAGS = {"MESOS_AGENT_PING_TIMEOUT": "1secs", "MESOS_MAX_AGENT_PING_TIMEOUTS": "2"}


class OwnMesos:
    """A real master and ``agents`` agents, started with extra master flags."""

    def __init__(self, flags: dict[str, str], agents: int = 2) -> None:
        self.dir = tempfile.mkdtemp(prefix="ark-mesos-faults-")
        env = dict(os.environ, **FAST_FLAGS, **flags)
        port = _free_port_block(agents + 1)
        out = subprocess.run(
            [
                str(MESOS_DIST / "start-mesos.sh"),
                *("--agents", str(agents), "--port", str(port), "--dir", self.dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if out.returncode != 0:
            self.stop()
            raise RuntimeError(f"start-mesos.sh failed: {out.stderr[-2000:]}")
        self.url = f"http://127.0.0.1:{port}"
        #: Line 1 is the master's pid, line 1 + N agent N's (hostname ``agentN``).
        self.pids = [int(p) for p in Path(self.dir, "pids").read_text().split()]

    def agent_pid(self, hostname: str) -> int:
        return self.pids[int(hostname.removeprefix("agent"))]

    def stop(self) -> None:
        for pid in self.pids[1:]:
            # A stopped agent would not die of stop-mesos.sh's SIGTERM.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        subprocess.run(
            [str(MESOS_DIST / "stop-mesos.sh"), self.dir], capture_output=True, check=False
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class FaultyMaster:
    """A master under test and the agent faults it can be put through."""

    def __init__(self, master: Master, mesos: OwnMesos | None = None) -> None:
        self.master = master
        self.mesos = mesos
        self._hostnames: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self.master.url

    def hostname(self, agent_id: str) -> str:
        """The agent's hostname (remembered: a removed agent leaves the state)."""
        if agent_id not in self._hostnames:
            for agent in self.master.agents():
                self._hostnames[agent["id"]] = agent["hostname"]
        return self._hostnames[agent_id]

    def _signal(self, agent_id: str, sig: signal.Signals) -> None:
        assert self.mesos is not None
        os.kill(self.mesos.agent_pid(self.hostname(agent_id)), sig)

    def kill_agent(self, agent_id: str) -> None:
        """The agent's process dies: its connection to the master closes."""
        if self.master.cluster is not None:
            self.master.cluster.kill_agent(agent_id)
        else:
            self._signal(agent_id, signal.SIGKILL)

    def partition_agent(self, agent_id: str) -> None:
        """The agent stops answering the master; its tasks keep running."""
        if self.master.cluster is not None:
            self.master.cluster.partition_agent(agent_id)
        else:
            self._signal(agent_id, signal.SIGSTOP)

    def heal_agent(self, agent_id: str) -> None:
        """The partition ends: the agent re-registers with its tasks."""
        if self.master.cluster is not None:
            self.master.cluster.heal_agent(agent_id)
        else:
            self._signal(agent_id, signal.SIGCONT)

    def mark_gone(self, agent_id: str) -> None:
        """An operator marks the agent gone (the operator API's MARK_AGENT_GONE)."""
        if self.master.cluster is not None:
            self.master.cluster.mark_agent_gone(agent_id)
            return
        call = {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent_id}}}
        status, _, body = request(self.url, "POST", "/api/v1", json.dumps(call))
        assert status == 200, (status, body)

    def unreachable(self) -> int:
        count: int = self.master.state()["unreachable_slaves"]
        return count


@pytest.fixture(params=["sim", "mesos"])
def faulty(request: pytest.FixtureRequest) -> Iterator[FaultyMaster]:
    """A fresh master per test whose agents may be killed: the simulator, then a real one."""
    if request.param == "sim":
        with Cluster(fast_config()) as c:
            yield FaultyMaster(Master("sim", c.url, c))
        return
    if not (MESOS_DIST / "start-mesos.sh").exists():
        pytest.skip(f"no real Mesos here: {MESOS_DIST}/start-mesos.sh is absent")
    mesos = OwnMesos(PING_FLAGS)
    try:
        yield FaultyMaster(Master("mesos", mesos.url), mesos)
    finally:
        mesos.stop()
