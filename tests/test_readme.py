"""Every command and snippet of the README runs as written (pydantic-core tests its README too).

* Python blocks run; the HA block with its ZooKeeper and master placeholders
  swapped for a real ZooKeeper and the simulator.
* ``make demo``'s transcript runs: ``make demo`` itself (its first lines must
  be the demo's), then each ``$ curl`` line against it, with the output shown.
* The real-cluster command is valid shell and its options are the example's.
* Every ``pip install 'ark-mesos[...]'`` names extras that exist; installing
  the wheel with an extra is ``.ci/wheel-check.sh``'s part, and ``make test``
  is what CI runs (``.ci/run``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ark.examples.everywhere.__main__ import parse
from ark.sim import AgentShape, Cluster, ClusterConfig
from waiting import wait_until

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
PYTHON = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
SHELL = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)


def shell_block(containing: str) -> str:
    [block] = [b for b in SHELL if containing in b]
    return block


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n", " ", block)
    return [
        line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def python_block(containing: str) -> str:
    [block] = [b for b in PYTHON if containing in b]
    return block


def test_the_readme_starts_with_a_quickstart() -> None:
    assert "Scheduler(" in PYTHON[0]
    assert "Cluster(" in PYTHON[0]


# Every Python block runs as pasted, but the HA one, which needs its placeholders
# filled with a real ZooKeeper (below).
@pytest.mark.parametrize("index", [i for i, b in enumerate(PYTHON) if "Standby(" not in b])
def test_every_python_example_runs(index: int) -> None:
    exec(compile(PYTHON[index], str(ROOT / "README.md"), "exec"), {"__name__": "readme"})


def test_the_ha_example_runs(zookeeper: str) -> None:
    block = python_block("Standby(")
    with Cluster(ClusterConfig(agents=(AgentShape(count=2),))) as cluster:
        for placeholder, real in [
            ('ZOOKEEPER = "zk1:2181,zk2:2181"', f'ZOOKEEPER = "{zookeeper}"'),
            ('MASTER = "zk://zk1:2181,zk2:2181/mesos"', f'MASTER = "{cluster.url}"'),
        ]:
            assert block.count(placeholder) == 1, placeholder
            block = block.replace(placeholder, real)
        exec(compile(block, str(ROOT / "README.md"), "exec"), {"__name__": "readme"})


def test_every_pip_install_names_extras_that_exist() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]\n")[1].split("\n[")[0]
    extras = set(re.findall(r"^([a-z]+) = \[", section, re.MULTILINE))
    assert {"ha", "pymesos", "sim", "example"} <= extras
    installs = re.findall(r"pip install '?ark-mesos(?:\[([a-z,]+)\])?", README)
    assert len(installs) >= 5
    for names in installs:
        assert set(filter(None, names.split(","))) <= extras, names


def test_the_real_cluster_command_pastes_cleanly() -> None:
    block = shell_block("--master zk://")
    # A comment after a line continuation ends the command there.
    assert not re.search(r"\\[ \t]+#", block)
    subprocess.run(["bash", "-n"], input=block, text=True, check=True)
    [command] = [c for c in commands(block) if "ark.examples.everywhere" in c]
    argv = shlex.split(command.replace('"$(cat api-token)"', "secret"))
    assert argv[:3] == ["python", "-m", "ark.examples.everywhere"]
    args = parse(argv[3:])  # argparse exits on an unknown option
    assert (args.master, args.api_host, args.token) == (
        "zk://zk1:2181,zk2:2181/mesos",
        "0.0.0.0",
        "secret",
    )


def test_the_two_commands_are_make_targets() -> None:
    for command in commands(shell_block("make test")):
        target = command.split("#")[0].split()
        assert target[0] == "make"
        subprocess.run([*target, "-n"], cwd=ROOT, check=True, capture_output=True)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], queue.SimpleQueue[str]]]:
    # A user types `make demo` in a shell; under `make test` the inherited make
    # variables would add "Entering directory" lines to what they see.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}}
    built = subprocess.run(["make", "-q", ".venv/.ark-built"], cwd=ROOT, env=env, check=False)
    if built.returncode != 0:
        pytest.skip("make demo would build the extension first: run make install")
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        ["make", "demo", "DEMO_ARGS=--api-port 0", f"PY={sys.executable}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        # The log goes to stderr; the lines the README shows are stdout's.
        stderr=log,
        text=True,
        start_new_session=True,
    )
    out: queue.SimpleQueue[str] = queue.SimpleQueue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield proc, out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


def next_line(out: queue.SimpleQueue[str], timeout: float = 60) -> str:
    return out.get(timeout=timeout).rstrip("\n")


def test_the_demo_transcript(demo: tuple[subprocess.Popen[str], queue.SimpleQueue[str]]) -> None:
    proc, out = demo
    transcript = shell_block("$ make demo").strip().split("\n\n")
    shown = transcript[0].splitlines()
    assert shown[0] == "$ make demo"
    # The first lines a user sees are the demo's, as shown (ports and token vary).
    first = [next_line(out) for _ in shown[1:]]
    for line, expected in zip(first, shown[1:], strict=True):
        pattern = re.escape(expected)
        pattern = re.sub(r"127\\.0\\.0\\.1:\d+", r"127\\.0\\.0\\.1:\\d+", pattern)
        pattern = pattern.replace(re.escape("Jx2..."), r"\S+")
        assert re.fullmatch(pattern, line), (line, expected)
    api = re.search(r"http://127\.0\.0\.1:\d+", first[1])
    assert api
    token = first[2].rsplit(" ", 1)[1]
    with httpx.Client(base_url=api.group(0), timeout=10) as http:
        run_session(http, transcript[1], token)
    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while (line := next_line(out)) and not line.startswith("stopped"):
        assert time.monotonic() < deadline
    assert line == "stopped on SIGTERM: scheduler (failover), API, simulator"


def run_session(http: httpx.Client, session: str, token: str) -> None:
    """Run each ``$ command`` of ``session`` against the demo's API; check the output shown."""
    api = str(http.base_url).rstrip("/")

    def running() -> list[dict[str, str]] | None:
        try:
            state = http.get("/state").json()
        except httpx.ConnectError:
            return None  # the URL is printed just before uvicorn listens
        agents: list[dict[str, str]] = state["agents"]
        up = len(state["tasks_by_state"].get("TASK_RUNNING", []))
        return agents if up == len(agents) == 5 else None

    agents = wait_until(running, timeout=60, what="a task on every agent")
    agent = agents[0]["id"]
    steps = re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n?)*)", session, re.MULTILINE)
    assert len(steps) >= 6
    env = {**os.environ}
    for command, expected in steps:
        command = command.replace("localhost:8080", api.removeprefix("http://"))
        command = command.replace("<agent-id>", agent).replace("Jx2...", token)
        if command.startswith("export TOKEN="):
            env["TOKEN"] = command.split("=", 1)[1].split()[0]
            continue
        want = expected.replace("<agent-id>", agent).rstrip("\n")
        # A deployment's progress is shown once it has ended: ask until then.
        deadline = time.monotonic() + (60 if "a few seconds later" in command else 0)
        while True:
            result = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command], env=env, capture_output=True, text=True
            )
            assert result.returncode == 0, (command, result.stderr)
            # A JSON body ends without a newline; the README shows the next
            # prompt on a line of its own.
            if result.stdout.rstrip("\n") == want or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        assert result.stdout.rstrip("\n") == want, command
    assert json.loads(http.get("/blacklist").text) == {"agents": []}
