"""``python -m ark.examples.everywhere`` stops cleanly on SIGINT and on SIGTERM (how systemd,
Kubernetes and Marathon stop a process): the scheduler shuts down with failover, the API and
the embedded simulator stop, and the process exits 0 without a traceback."""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from waiting import wait_until


def lines_of(stream: object, into: queue.SimpleQueue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_shuts_down_with_failover_and_exits_0(sig: signal.Signals, tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    # stderr to a file: a pipe nobody reads would block the process once full.
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "ark.examples.everywhere", "--api-port", "0", "--agents", "2"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as proc,
    ):
        check_stop(proc, sig, log)


def check_stop(proc: subprocess.Popen[str], sig: signal.Signals, log: Path) -> None:
    out: queue.SimpleQueue[str] = queue.SimpleQueue()
    threading.Thread(target=lines_of, args=(proc.stdout, out), daemon=True).start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not any(line.startswith("token for") for line in seen):
            assert time.monotonic() < deadline and proc.poll() is None, (seen, proc.returncode)
            with contextlib.suppress(queue.Empty):
                seen.append(out.get(timeout=1))
        [api] = [m.group(1) for line in seen if (m := re.match(r"API: (\S+)/state", line))]

        def running() -> bool:
            try:
                state = httpx.get(f"{api}/state", timeout=5).json()
            except httpx.ConnectError:
                return False  # the URL is printed just before uvicorn listens
            return len(state["tasks_by_state"].get("TASK_RUNNING", [])) == 2

        wait_until(running, timeout=60, what="a task on both agents")
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 0
        stderr = log.read_text()
        assert "Traceback" not in stderr, stderr
        while True:
            try:
                seen.append(out.get(timeout=5))
            except queue.Empty:
                break
            if seen[-1].startswith("stopped"):
                break
        assert seen[-1] == f"stopped on {sig.name}: scheduler (failover), API, simulator\n"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{api}/state", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
