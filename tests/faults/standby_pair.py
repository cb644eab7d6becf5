"""Two scheduler processes under ``Standby``, each behind proxies of its own.

Each process reaches the master through one :class:`FaultProxy` and
ZooKeeper through another, so a fault can cut one process from one of them
while the other process and path are untouched.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from proxy import FaultProxy

SCRIPT = Path(__file__).parent / "scheduler_process.py"


class SchedulerProcess:
    """``scheduler_process.py`` with its master and ZooKeeper proxies."""

    def __init__(
        self, name: str, master: str, zookeeper: str, path: str, workdir: Path, session: float
    ) -> None:
        self.name = name
        self.path = path
        self.master = FaultProxy(master, name=f"{name}-master").start()
        self.zookeeper = FaultProxy(zookeeper, name=f"{name}-zk").start()
        self.log = workdir / f"{name}.log"
        self.output = workdir / f"{name}.out"
        self._args = [
            sys.executable,
            str(SCRIPT),
            self.master.address,
            self.zookeeper.address,
            path,
            str(self.log),
            str(session),
        ]
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.output.open("ab") as out:
            return subprocess.Popen(self._args, stdout=out, stderr=subprocess.STDOUT)

    def elections(self) -> list[tuple[int, float]]:
        """``(epoch, time.time())`` of each term this process began."""
        if not self.log.exists():
            return []
        lines = [line.split() for line in self.log.read_text().splitlines()]
        return [(int(p[1]), float(p[2])) for p in lines if p and p[0] == "elected"]

    def epochs(self) -> list[int]:
        return [e for e, _ in self.elections()]

    def restart(self) -> None:
        self.stop_process()
        self.proc = self._spawn()

    def stop_process(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop_process()
        self.master.close()
        self.zookeeper.close()


def leader(processes: list[SchedulerProcess]) -> SchedulerProcess | None:
    """The process that began the latest term (None before any)."""
    best = max(
        ((p.epochs()[-1], p) for p in processes if p.epochs()), default=None, key=lambda ep: ep[0]
    )
    return best[1] if best else None


def epoch_began(zk_hosts: str, path: str) -> float:
    """When the current term began: the epoch znode's last write (``time.time()``)."""
    from kazoo.client import KazooClient  # type: ignore[import-untyped]

    zk = KazooClient(hosts=zk_hosts)
    zk.start(10)
    try:
        _, stat = zk.get(f"{path}/epoch")
        return float(stat.mtime) / 1000.0
    finally:
        zk.stop()
        zk.close()


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False
