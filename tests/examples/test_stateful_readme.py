"""The README's transcript of the stateful example runs as shown: the process's first
lines, then each ``$ curl`` against it (waiting, as a user would, for the replicas to
settle before the commands that show them), then SIGTERM stops it cleanly."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from waiting import wait_until

README = (Path(__file__).parents[2] / "README.md").read_text()
[BLOCK] = [
    b
    for b in re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    if "$ python -m ark.examples.stateful" in b
]


def settled(http: httpx.Client, tasks: dict[int, str]) -> bool:
    """Replica index -> task id, each running on its volume's agent, and nothing else."""
    try:
        replicas = http.get("/state").json()["replicas"]
    except httpx.ConnectError:
        return False  # the URL is printed just before uvicorn listens
    return {
        r["index"]: r["task_id"]
        for r in replicas
        if r["state"] == "TASK_RUNNING" and r["agent_id"] == r["volume"]["agent_id"]
    } == tasks and len(replicas) == len(tasks)


# What each command needs to have settled first (as a user waits before looking).
BEFORE = {
    "/state": {0: "db-0", 1: "db-1", 2: "db-2"},
    "/replicas/1/replace": {0: "db-0", 1: "db-1", 2: "db-2", 3: "db-3"},
    "/reservations": {0: "db-0", 1: "db-1.1", 2: "db-2", 3: "db-3"},
}


def test_the_stateful_transcript(tmp_path: Path) -> None:
    transcript = BLOCK.split("\n\n")
    shown = transcript[0].splitlines()
    command = [sys.executable, "-m", "ark.examples.stateful", "--api-port", "0"]
    with (
        (tmp_path / "stderr.log").open("w") as log,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True) as proc,
    ):
        out: queue.SimpleQueue[str] = queue.SimpleQueue()
        threading.Thread(
            target=lambda: [out.put(x) for x in proc.stdout or ()], daemon=True
        ).start()
        try:
            first = [out.get(timeout=60).rstrip("\n") for _ in shown[1:]]
            for line, expected in zip(first, shown[1:], strict=True):
                pattern = re.escape(expected)
                pattern = re.sub(r"127\\.0\\.0\\.1:\d+", r"127\\.0\\.0\\.1:\\d+", pattern)
                pattern = pattern.replace(re.escape("Qm3..."), r"\S+")
                assert re.fullmatch(pattern, line), (line, expected)
            api = re.search(r"http://127\.0\.0\.1:\d+", first[1])
            assert api
            token = first[2].rsplit(" ", 1)[1]
            with httpx.Client(base_url=api.group(0), timeout=10) as http:
                run_session(http, transcript[1], api.group(0), token)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
            lines: list[Any] = []
            with contextlib.suppress(queue.Empty):
                while True:
                    lines.append(out.get(timeout=5).rstrip("\n"))
            assert lines[-1] == "stopped on SIGTERM: scheduler (failover), API, simulator"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def run_session(http: httpx.Client, session: str, api: str, token: str) -> None:
    steps = re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n?)*)", session, re.MULTILINE)
    assert len(steps) >= 5
    env = {**os.environ}
    for command, expected in steps:
        command = command.replace("http://localhost:8080", api).replace("localhost:8080", api)
        if command.startswith("export TOKEN="):
            env["TOKEN"] = token
            continue
        for path, tasks in BEFORE.items():
            if f"{api}{path}" in command:
                wait_until(lambda t=tasks: settled(http, t), 60, f"{tasks} before {path}")
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, (command, result.stderr)
        # A JSON body ends without a newline; the README shows the next prompt on a line of its own.
        assert result.stdout.rstrip("\n") == expected.rstrip("\n"), command
