"""``python -m ark.examples.stateful`` stops cleanly on SIGINT and on SIGTERM, as the
``everywhere`` example does: the scheduler shuts down with failover (the replicas keep
running on their volumes), the API and the embedded simulator stop, and it exits 0."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_everywhere_stop import check_stop


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_shuts_down_with_failover_and_exits_0(sig: signal.Signals, tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    command = [sys.executable, "-m", "ark.examples.stateful", "--api-port", "0"]
    # Two replicas on two agents: check_stop waits for two running tasks.
    command += ["--agents", "2", "--replicas", "2"]
    with (
        log.open("w") as stderr,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True) as proc,
    ):
        check_stop(proc, sig, log)
