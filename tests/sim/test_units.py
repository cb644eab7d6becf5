"""Units without sockets: RecordIO, resources, config, the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sim_client import Subscriber, request

from ark.drivers.detector import DetectorError, parse_zk_url
from ark.recordio import RecordIOError
from ark.sim import AgentShape, ClusterConfig, RecordIODecoder, frame
from ark.sim.__main__ import parse_args
from ark.sim.resources import ResourceError, Resources
from waiting import wait_until


def test_recordio_round_trip_across_any_split() -> None:
    records = [b"", b"{}", "é".encode() * 300, b"x" * 70000]
    stream = b"".join(frame(r) for r in records)
    for size in (1, 2, 7, 4096, len(stream)):
        decoder = RecordIODecoder()
        out = []
        for i in range(0, len(stream), size):
            out.extend(decoder.feed(stream[i : i + size]))
        assert out == records


@pytest.mark.parametrize("garbage", [b"abc\n", b"-1\n", b"9" * 30])
def test_recordio_rejects_garbage(garbage: bytes) -> None:
    with pytest.raises(RecordIOError):
        RecordIODecoder().feed(garbage)


def test_resources_arithmetic_and_ranges() -> None:
    agent = Resources({"cpus": 4, "mem": 1024}, {"ports": [(31000, 31010)]})
    task = Resources.from_json(
        [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31002, "end": 31003}]},
            },
        ]
    )
    assert agent.contains(task)
    left = agent - task
    assert left.scalars == {"cpus": 2.5, "mem": 1024}
    assert left.ranges == {"ports": [(31000, 31001), (31004, 31010)]}
    assert (left + task) == agent
    assert not task.contains(agent)
    assert not left.contains(task)
    assert Resources.from_json(agent.to_json()) == agent
    assert agent.to_state()["ports"] == "[31000-31010]"


@pytest.mark.parametrize(
    "bad",
    [
        "cpus",
        [{"name": "cpus"}],
        [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}],
        [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "NaN"}}],
        [{"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": 5, "end": 1}]}}],
        [{"name": "s", "type": "SET", "set": {"item": ["a"]}}],
    ],
)
def test_bad_resources_raise(bad: object) -> None:
    with pytest.raises(ResourceError):
        Resources.from_json(bad)


def test_config_from_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(
        json.dumps(
            {
                "agents": [
                    {"count": 2, "cpus": 8, "attributes": {"rack": "a"}},
                    {"count": 1, "gpus": 2, "ports": [[1000, 2000]]},
                ],
                "tasks": {"run_seconds": 1.0, "failure_rate": 0.5},
                "timing": {"heartbeat_interval": 1.0},
                "seed": 3,
            }
        )
    )
    config = parse_args(["--config", str(path), "--masters", "2"])
    assert [s.count for s in config.agents] == [2, 1]
    assert config.agents[1].ports == ((1000, 2000),)
    assert config.tasks.failure_rate == 0.5 and config.timing.heartbeat_interval == 1.0
    assert config.masters == 2 and config.seed == 3
    flags = parse_args(
        ["--agents", "5", "--cpus", "2", "--attributes", "rack:r1;ssd:1", "--zk", "zk://h:1/m"]
    )
    assert flags.agents == (AgentShape(count=5, cpus=2.0, attributes={"rack": "r1", "ssd": 1.0}),)
    assert (flags.zk_hosts, flags.zk_path) == ("h:1", "/m")
    assert ClusterConfig().timing.heartbeat_interval == 15.0


def test_zk_urls_are_parsed_as_the_driver_parses_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_zk_url("zk://a:1,b:2/mesos/") == ("a:1,b:2", "/mesos")
    for bad in ("a:1/mesos", "zk://a:1", "zk://a:1/", "zk:///mesos"):
        with pytest.raises(DetectorError, match="expected zk://"):
            parse_zk_url(bad)
    with pytest.raises(SystemExit):
        parse_args(["--zk", "zk://h:1"])
    assert "expected zk://host:port[,host:port]/path" in capsys.readouterr().err


def test_command_line_serves_until_terminated() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ark.sim", "--agents", "3", "--heartbeat-interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        leader = proc.stdout.readline().decode().split()[-1]
        assert leader.startswith("http://127.0.0.1:")
        assert request(leader, "GET", "/health")[0] == 200
        sub = Subscriber(leader)
        try:
            wait_until(lambda: len(sub.offers()) == 3, what="three offers")
        finally:
            sub.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
