"""Leader election in a real ZooKeeper: terms, stepping down, restarts, pauses."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from ark.election import LeaderElection, Term
from ark.sim import AgentShape, Cluster
from sim.sim_client import fast_config
from test_high_availability import N, Process, exactly_n_running, tasks
from waiting import wait_until
from zookeeper_server import ZooKeeperServer


class Candidate:
    def __init__(self, hosts: str, path: str, session_timeout: float = 2.0) -> None:
        self.terms: list[Term] = []
        self.revoked = 0
        self.election = LeaderElection(
            hosts, path, self.terms.append, self._revoke, session_timeout=session_timeout
        )

    def _revoke(self) -> None:
        self.revoked += 1


def test_one_leader_at_a_time_and_terms_grow(zookeeper: str) -> None:
    path = f"/ark-election-{uuid.uuid4().hex[:8]}"
    candidates = [Candidate(zookeeper, path) for _ in range(3)]
    for c in candidates:
        c.election.start()
    epochs = []
    while candidates:
        wait_until(lambda: any(c.terms for c in candidates), 30)
        leaders = [c for c in candidates if c.terms]
        assert len(leaders) == 1, "one leader at a time"
        (leader,) = leaders
        epochs.append(leader.terms[0].epoch)
        leader.election.stop()
        assert leader.revoked == 1
        candidates.remove(leader)
    assert epochs == [epochs[0], epochs[0] + 1, epochs[0] + 2]


def test_a_zookeeper_restart_steps_the_leader_down_then_elects_anew() -> None:
    server = ZooKeeperServer().start()
    try:
        leader = Candidate(server.hosts, "/ark-restart", session_timeout=4.0)
        leader.election.start()
        wait_until(lambda: leader.terms, 30)
        server.stop()
        wait_until(lambda: leader.revoked == 1, 10)
        assert not leader.election.is_leader
        server.start()
        wait_until(lambda: len(leader.terms) == 2, 30)
        assert leader.terms[1].epoch > leader.terms[0].epoch
        leader.election.stop()
    finally:
        server.close()


def test_a_paused_leader_is_replaced_and_stays_down_when_it_wakes(
    zookeeper: str, tmp_path: Path
) -> None:
    path = f"/ark-pause-{uuid.uuid4().hex[:8]}"
    with Cluster(fast_config(agents=(AgentShape(count=3, cpus=4, mem=1024),))) as cluster:
        args = [cluster.url, zookeeper, path, str(N)]
        procs = [Process(f"s{i}", args, tmp_path / f"s{i}.log") for i in range(2)]
        try:
            leader = wait_until(
                lambda: next((p for p in procs if p.elections()), None), 30, "a leader"
            )
            wait_until(lambda: exactly_n_running(cluster), 30)
            other = next(p for p in procs if p is not leader)
            leader.kill(signal.SIGSTOP)
            wait_until(other.elections, 30)
            wait_until(lambda: exactly_n_running(cluster), 30)
            leader.kill(signal.SIGCONT)
            time.sleep(2.0)  # give the woken leader every chance to misbehave
            assert len(leader.elections()) == 1, "it must not lead again"
            assert exactly_n_running(cluster)
            assert len(cluster.state()["frameworks"]) == 1
            assert not [t for t in tasks(cluster) if t["state"] == "TASK_KILLED"]
        finally:
            for p in procs:
                p.stop()
