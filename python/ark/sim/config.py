"""Configuration of a simulated cluster: agent shapes, task behaviour, timing.

Defaults are Mesos's own (heartbeats 15 s, status update retries from 10 s
doubling to 10 min, allocation every second, agent ping timeout 75 s).
Tests shrink them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

__all__ = ["AgentShape", "ClusterConfig", "TaskBehaviour", "Timing"]


@dataclasses.dataclass(frozen=True)
class AgentShape:
    """``count`` agents with the same resources and attributes."""

    count: int = 1
    cpus: float = 4.0
    mem: float = 8192.0
    disk: float = 65536.0
    gpus: float = 0.0
    ports: tuple[tuple[int, int], ...] = ((31000, 32000),)
    #: Attributes: text values (``"rack": "r1"``) or scalars (``"ssd": 1.0``).
    attributes: dict[str, str | float] = dataclasses.field(default_factory=dict)
    hostname_prefix: str = "agent"


@dataclasses.dataclass(frozen=True)
class TaskBehaviour:
    """How a launched task lives: its delays, its duration and its fate.

    A task's labels override these per task: ``ark.sim/staging`` (seconds
    of STAGING), ``ark.sim/duration`` (seconds of RUNNING, ``inf`` to run
    until killed), ``ark.sim/outcome`` (the terminal state, e.g.
    ``TASK_FAILED``), ``ark.sim/kill`` (seconds to exit after SIGTERM, ``inf``
    for a task that ignores it) and ``ark.sim/health`` (``fail``: its health
    checks fail).
    """

    staging_seconds: float = 0.01
    starting_seconds: float = 0.01
    #: Seconds in RUNNING before the task ends; ``None`` runs until killed.
    run_seconds: float | None = None
    #: Extra uniform jitter in ``[0, run_jitter_seconds)`` added to ``run_seconds``.
    run_jitter_seconds: float = 0.0
    #: Probability that an ending task ends TASK_FAILED instead of TASK_FINISHED.
    failure_rate: float = 0.0
    #: Seconds a task takes to exit after SIGTERM (a kill policy's grace caps it).
    kill_seconds: float = 0.01


@dataclasses.dataclass(frozen=True)
class Timing:
    """Every interval of the simulated master and agents, in seconds."""

    heartbeat_interval: float = 15.0
    allocation_interval: float = 1.0
    default_refuse_seconds: float = 5.0
    #: Offers are rescinded after this long (Mesos's ``--offer_timeout``); ``None``: never.
    offer_timeout: float | None = None
    update_retry_initial: float = 10.0
    update_retry_max: float = 600.0
    #: How long a partitioned agent goes unheard before it is marked unreachable
    #: (``agent_ping_timeout`` x ``max_agent_ping_timeouts`` = 15 s x 5).
    agent_ping_timeout: float = 75.0
    #: How long agents take to re-register with a newly elected master.
    agent_reregister_delay: float = 0.05
    #: After this, agents not re-registered with a new master are unreachable.
    agent_reregister_timeout: float = 600.0
    #: A crashed master comes back as a standby after this long.
    master_restart_delay: float = 0.2


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    """A whole simulated cluster."""

    agents: tuple[AgentShape, ...] = (AgentShape(count=3),)
    tasks: TaskBehaviour = TaskBehaviour()
    timing: Timing = Timing()
    masters: int = 1
    seed: int = 0
    host: str = "127.0.0.1"
    #: First master's port; 0 picks free ports.
    port: int = 0
    #: ``host:port,...`` of ZooKeeper; masters register there when set.
    zk_hosts: str | None = None
    zk_path: str = "/mesos"
    version: str = "1.11.0"
    #: Largest accepted request body, bytes (a larger one gets 413).
    max_body_bytes: int = 64 * 1024 * 1024
    #: Whether the simulated executors echo every framework MESSAGE back.
    echo_messages: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterConfig:
        """Build a config from plain JSON data (the ``--config`` file's shape)."""
        data = dict(data)
        agents = tuple(
            AgentShape(
                **{
                    **a,
                    "ports": tuple(tuple(p) for p in a.get("ports", ((31000, 32000),))),
                }
            )
            for a in data.pop("agents", [{"count": 3}])
        )
        tasks = TaskBehaviour(**data.pop("tasks", {}))
        timing = Timing(**data.pop("timing", {}))
        return cls(agents=agents, tasks=tasks, timing=timing, **data)

    @classmethod
    def from_file(cls, path: str | Path) -> ClusterConfig:
        """Read a JSON config file."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def replace(self, **changes: Any) -> ClusterConfig:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)
