"""Start, drive and stop ``ark-bench-master``, the Mesos master of the benchmarks.

The harness is a Rust binary of this repository (``rust/bench-master``); it is
built here on first use with ``cargo build --profile bench-master -p ark-bench-master``
into ``target/bench-master/`` (incremental: quick when nothing changed), run
in its own process, and driven through its ``/bench/`` control endpoints::

    with BenchMaster.start() as master:
        driver = V1Driver(master.url, {...})
        master.storm(100_000)
        master.wait(lambda s: s["acks_ok"] >= 100_000)
        print(master.stats())

It stops when the ``with`` block ends, or when this process dies (it exits
when its standard input closes).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# A target directory of its own: sharing target/ with maturin's build of the
# extension (`make build`) made each of the two builds redo the other's
# release build of ark-core and its dependencies (fat LTO: minutes).
TARGET = ROOT / "target" / "bench-master"
BINARY = TARGET / "bench-master" / "ark-bench-master"

Stats = dict[str, Any]


def build() -> Path:
    """Builds the harness (release) if needed; returns the binary's path."""
    subprocess.run(
        [
            "cargo",
            "build",
            "--profile",
            "bench-master",
            "-q",
            "-p",
            "ark-bench-master",
            "--target-dir",
            TARGET,
        ],
        cwd=ROOT,
        check=True,
    )
    return BINARY


class BenchMaster:
    """A running ``ark-bench-master``; ``url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, process: subprocess.Popen[bytes], address: str) -> None:
        self.process = process
        self.address = address
        self.url = f"http://{address}"

    @classmethod
    def start(cls, heartbeat_seconds: float = 15.0) -> BenchMaster:
        """Builds the harness if needed and starts it on a free loopback port."""
        binary = build()
        process = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", "--heartbeat-seconds", str(heartbeat_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.startswith("listening "):
            process.kill()
            process.wait()
            raise RuntimeError(f"ark-bench-master did not start: {line!r}")
        return cls(process, line.split(" ", 1)[1])

    def stop(self) -> None:
        """Stops the harness (closing its stdin ends it) and waits for it."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> BenchMaster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the control endpoints ------------------------------------------------------

    def _request(self, method: str, path: str, **params: float) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=60.0) as response:
            return json.loads(response.read())

    def stats(self) -> Stats:
        """The harness's counters, times and own CPU time (``GET /bench/stats``)."""
        stats: Stats = self._request("GET", "/bench/stats")
        return stats

    def reset(self) -> None:
        """Zeroes the counters."""
        self._request("POST", "/bench/reset")

    def storm(self, n: int, rate: float | None = None) -> Stats:
        """Streams ``n`` TASK_RUNNING updates (``storm-<i>``) to the subscriber."""
        result: Stats = self._request("POST", "/bench/storm", n=n, rate=rate)  # type: ignore[arg-type]
        return result

    def offers(
        self,
        agents: int,
        cpus: float,
        mem: float,
        disk: float = 0.0,
        ports: int = 0,
        per_event: int | None = None,
    ) -> Stats:
        """Sends one offer for each of ``agents`` agents, ``per_event`` to an OFFERS event."""
        result: Stats = self._request(
            "POST",
            "/bench/offers",
            agents=agents,
            cpus=cpus,
            mem=mem,
            disk=disk,
            ports=ports,
            per_event=per_event,  # type: ignore[arg-type]
        )
        return result

    def tasks(self, n: int, agents: int) -> None:
        """Makes ``n`` tasks ``task-<i>`` on ``agent-<i % agents>`` known as RUNNING."""
        self._request("POST", "/bench/tasks", n=n, agents=agents)

    def wait(self, done: Callable[[Stats], bool], timeout: float = 600.0) -> Stats:
        """Polls the stats until ``done(stats)``; returns them, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if done(stats):
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"the harness never got there: {stats}")
            time.sleep(0.02)


def idle_share(cpu_seconds: float, seconds: float) -> float:
    """The share of ``seconds`` of wall time the harness did not spend on a CPU."""
    return 1.0 - cpu_seconds / seconds if seconds > 0 else float("nan")
