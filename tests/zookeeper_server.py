"""A real ZooKeeper (Debian's package) on loopback, for the tests that need one.

Each server has its own config, data directory and port; ``stop`` and
``start`` again keep both, so a test can restart ZooKeeper under a running
client. ``.ci/install-zookeeper.sh`` installs the package.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ZK_JAR = Path("/usr/share/java/zookeeper.jar")
JAVA = shutil.which("java")
INSTALLED = ZK_JAR.exists() and JAVA is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"srvr")
            return b"Mode:" in s.recv(4096)
    except OSError:
        return False


class ZooKeeperServer:
    """A standalone ZooKeeper; ``hosts`` is its ``host:port``."""

    def __init__(self, tick_ms: int = 200) -> None:
        if JAVA is None or not ZK_JAR.exists():
            raise RuntimeError("ZooKeeper is not installed (run .ci/install-zookeeper.sh)")
        self._java = JAVA
        self._tmp = tempfile.TemporaryDirectory(prefix="ark-zk-")
        self.port = free_port()
        self.hosts = f"127.0.0.1:{self.port}"
        data = Path(self._tmp.name, "data")
        data.mkdir()
        self._cfg = Path(self._tmp.name, "zoo.cfg")
        # minSessionTimeout at 2 ticks lets tests use short session timeouts.
        self._cfg.write_text(
            f"tickTime={tick_ms}\ndataDir={data}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\n"
            f"minSessionTimeout={2 * tick_ms}\n4lw.commands.whitelist=srvr\n"
        )
        self.log_path = Path(self._tmp.name, "zookeeper.log")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ZooKeeperServer:
        # The child keeps its own copy of the log's file descriptor.
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    self._java,
                    "-Xmx256m",
                    "-Dzookeeper.admin.enableServer=false",
                    "-cp",
                    str(ZK_JAR),
                    "org.apache.zookeeper.server.ZooKeeperServerMain",
                    str(self._cfg),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not _serving(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ZooKeeper did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()
