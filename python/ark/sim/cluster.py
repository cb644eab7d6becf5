"""A whole simulated cluster, running on its own event loop thread.

`Cluster` is the Python API: ``start()``, ``stop()``, ``url`` and the faults
(kill, partition, heal, restart or mark gone an agent; drop or delay a
framework's stream; fail over the master). Every method is thread-safe: it
runs on the cluster's loop and waits for the result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .agents import SimAgent, build_agents
from .config import ClusterConfig
from .election import Election, LocalElection
from .master import Master, _uuid, master_info
from .registry import Registry
from .server import MasterServer

__all__ = ["Cluster", "SimError"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_START_TIMEOUT = 30.0


class SimError(RuntimeError):
    """A simulator operation that cannot be done (unknown agent, not started...)."""


class Cluster:
    """Masters (one leads) and agents, serving the v1 scheduler API on loopback."""

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self.rng = random.Random(self.config.seed)
        self.registry = Registry()
        self.servers: list[MasterServer] = []
        self.agents: dict[str, SimAgent] = {}
        self.event_delay = 0.0
        self._election: Election | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._leader_changed: asyncio.Event | None = None
        self._stopping = False
        self._elected = False
        #: Background tasks (master restarts) to cancel on stop.
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- Lifecycle --------------------------------------------------------

    def start(self) -> Cluster:
        """Start the loop thread, the masters and the agents; wait for a leader."""
        if self._thread is not None:
            raise SimError("cluster already started")
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            task = loop.create_task(self._start())
            task.add_done_callback(
                lambda t: (
                    ready.set_exception(t.exception() or SimError("cancelled"))
                    if t.cancelled() or t.exception()
                    else ready.set_result(None)
                )
            )
            loop.run_forever()
            # Connections dropped by the stop close on the loop's next turns;
            # let them, or their transports outlive the loop unclosed.
            loop.run_until_complete(asyncio.sleep(0.01))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="ark-sim", daemon=True)
        self._thread.start()
        try:
            ready.result(_START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server, session and timer; join the loop thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed() and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._stop(), loop)
            try:
                fut.result(_START_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT)
        self._loop = self._thread = None

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        self._leader_changed = asyncio.Event()
        cluster_id = _uuid(self.rng)
        for agent in build_agents(
            cfg.agents,
            id_prefix=cluster_id,
            loop=loop,
            rng=self.rng,
            behaviour=cfg.tasks,
            timing=cfg.timing,
            echo_messages=cfg.echo_messages,
        ):
            self.agents[agent.id] = agent
        if cfg.zk_hosts:
            from .zookeeper import ZooKeeperElection

            self._election = ZooKeeperElection(cfg.zk_hosts, cfg.zk_path)
        else:
            self._election = LocalElection()
        await self._election.start(self._on_leader)
        for i in range(cfg.masters):
            server = MasterServer(
                cfg.host,
                cfg.port + i if cfg.port else 0,
                version=cfg.version,
                max_body_bytes=cfg.max_body_bytes,
                leader=self._leader_info,
                faults=self._fault,
                event_delay=lambda: self.event_delay,
            )
            self.servers.append(server)
            await self._boot(server)
        await self._wait_leader()

    async def _stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self.servers:
            if server.master is not None:
                server.master.crash()
            await server.stop()
        for agent in self.agents.values():
            agent.kill()
        if self._election is not None:
            await self._election.stop()

    async def _boot(self, server: MasterServer) -> None:
        """Start (or restart) a master process: fresh state, new id, then contend."""
        assert self._loop is not None and self._election is not None
        await server.start()
        master_id = _uuid(self.rng)
        info = master_info(master_id, server.host, server.port, self.config.version)
        server.master = Master(
            info,
            loop=self._loop,
            registry=self.registry,
            timing=self.config.timing,
            rng=self.rng,
            agents_by_id=self.agents,
        )
        await self._election.join(master_id, info)

    def _leader_info(self) -> dict[str, Any] | None:
        return self._election.leader() if self._election is not None else None

    def _on_leader(self, info: dict[str, Any] | None) -> None:
        if self._leader_changed is not None:
            self._leader_changed.set()
        if info is None or self._stopping:
            return
        master = self._master_by_id(info["id"])
        if master is None or master.leading:
            return
        master.elect()
        assert self._loop is not None
        # Agents boot with the first master; later ones they find after a delay.
        delay = self.config.timing.agent_reregister_delay if self._elected else 0.0
        self._elected = True
        for agent in self.agents.values():
            if agent.reachable:
                if delay:
                    self._loop.call_later(delay, master.register_agent, agent)
                else:
                    master.register_agent(agent)

    def _master_by_id(self, master_id: str) -> Master | None:
        for server in self.servers:
            if server.master is not None and server.master.id == master_id:
                return server.master
        return None

    async def _wait_leader(self) -> Master:
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT
        assert self._leader_changed is not None
        while True:
            master = self._leading_master()
            if master is not None:
                return master
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise SimError("no master was elected")
            self._leader_changed.clear()
            try:
                await asyncio.wait_for(self._leader_changed.wait(), remaining)
            except asyncio.TimeoutError:
                continue

    def _leading_master(self) -> Master | None:
        for server in self.servers:
            if server.master is not None and server.master.leading:
                return server.master
        return None

    # -- Running things on the loop ----------------------------------------

    def run(self, fn: Callable[[], T], timeout: float = _START_TIMEOUT) -> T:
        """Call ``fn()`` on the cluster's loop and return its result."""
        loop = self._require_loop()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    def _await(self, coro: Coroutine[Any, Any, T], timeout: float = _START_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._require_loop()).result(timeout)

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise SimError("cluster not started")
        return self._loop

    # -- Views --------------------------------------------------------------

    @property
    def url(self) -> str:
        """The leading master's ``http://host:port`` (the first master's before election)."""
        server = self.leader_server() or (self.servers[0] if self.servers else None)
        if server is None:
            raise SimError("cluster not started")
        return server.url

    @property
    def urls(self) -> list[str]:
        """Every master's ``http://host:port``."""
        return [s.url for s in self.servers]

    @property
    def zk_url(self) -> str | None:
        """``zk://hosts/path`` when masters register in ZooKeeper."""
        if not self.config.zk_hosts:
            return None
        return f"zk://{self.config.zk_hosts}{self.config.zk_path}"

    def leader_server(self) -> MasterServer | None:
        """The server of the leading master, if any."""
        for server in self.servers:
            if server.master is not None and server.master.leading:
                return server
        return None

    def leader(self) -> Master:
        """The leading master (raise `SimError` if none)."""
        master = self.run(self._leading_master)
        if master is None:
            raise SimError("no leading master")
        return master

    def recovered(self) -> bool:
        """Whether a master leads and every agent it expects has re-registered."""

        def check() -> bool:
            master = self._leading_master()
            return master is not None and not master.recovering

        return self.run(check)

    def state(self) -> dict[str, Any]:
        """The leading master's ``/master/state`` document."""
        return self.run(lambda: self._require_leader().state(self._leader_info()))

    def _require_leader(self) -> Master:
        master = self._leading_master()
        if master is None:
            raise SimError("no leading master")
        return master

    def _agent(self, agent_id: str) -> SimAgent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise SimError(f"unknown agent {agent_id!r}")
        return agent

    # -- Faults -------------------------------------------------------------

    def kill_agent(self, agent_id: str) -> None:
        """The agent process dies with its tasks.

        The master sees the disconnection at once (offers rescinded, tasks
        of frameworks without ``checkpoint`` lost) and marks the agent
        unreachable after the ping timeout.
        """
        self.run(lambda: self._kill_agent(agent_id))

    def _kill_agent(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        agent.kill()
        master = self._leading_master()
        if master is not None:
            # The socket closes at once; pings go unanswered from now on.
            master.agent_disconnected(agent_id)
            master.agent_unresponsive(agent_id)

    def partition_agent(self, agent_id: str) -> None:
        """Cut the network between the agent and the masters; its tasks keep running."""
        self.run(lambda: self._partition_agent(agent_id))

    def _partition_agent(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        agent.partitioned = True
        master = self._leading_master()
        if master is not None:
            master.agent_unresponsive(agent_id)

    def heal_agent(self, agent_id: str) -> None:
        """End a partition: the agent re-registers and re-sends pending updates."""
        self.run(lambda: self._heal_agent(agent_id))

    def _heal_agent(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        agent.partitioned = False
        master = self._leading_master()
        if master is not None:
            master.register_agent(agent)

    def restart_agent(self, agent_id: str) -> None:
        """Start a killed agent again (empty) and re-register it."""
        self.run(lambda: self._restart_agent(agent_id))

    def _restart_agent(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        agent.restart()
        master = self._leading_master()
        if master is not None:
            master.register_agent(agent)

    def volume(self, agent_id: str, persistence_id: str) -> dict[str, str]:
        """A copy of the data in a persistent volume of an agent (what its tasks wrote)."""
        return self.run(lambda: dict(self._volume(agent_id, persistence_id)))

    def write_volume(self, agent_id: str, persistence_id: str, key: str, value: str) -> None:
        """Write ``key=value`` into a persistent volume, as a task on it would."""
        self.run(lambda: self._volume(agent_id, persistence_id).__setitem__(key, value))

    def _volume(self, agent_id: str, persistence_id: str) -> dict[str, str]:
        volumes = self._agent(agent_id).volumes
        if persistence_id not in volumes:
            raise SimError(f"no persistent volume {persistence_id!r} on agent {agent_id!r}")
        return volumes[persistence_id]

    def fail_task(self, task_id: str) -> None:
        """A running task's process exits 1: TASK_FAILED, as a crash on a real agent."""

        def fail() -> None:
            failed = [
                agent.fail_task(framework_id, task_id)
                for agent in self.agents.values()
                for framework_id, known in list(agent.tasks)
                if known == task_id
            ]
            if not any(failed):
                raise SimError(f"no running task {task_id!r}")

        self.run(fail)

    def set_health(self, task_id: str, passing: bool) -> None:
        """Make a task's health checks pass or fail from their next run (sim/health.py)."""
        self.run(lambda: self._set_health(task_id, passing))

    def _set_health(self, task_id: str, passing: bool) -> None:
        for agent in self.agents.values():
            for framework_id, known in list(agent.tasks):
                if known == task_id:
                    agent.set_health(framework_id, task_id, passing)

    def mark_agent_gone(self, agent_id: str) -> None:
        """An operator marks the agent gone (its tasks: TASK_GONE_BY_OPERATOR)."""
        self.run(lambda: self._require_leader().mark_gone(self._agent(agent_id).id))

    def drop_stream(self, framework_id: str) -> bool:
        """Reset a framework's subscription connection; False if it has none."""
        return self.run(lambda: self._require_leader().drop_stream(framework_id))

    def delay_events(self, seconds: float, framework_id: str | None = None) -> None:
        """Hold events back ``seconds`` on one framework's stream, or on all (and new) ones."""
        self.run(lambda: self._delay_events(seconds, framework_id))

    def _delay_events(self, seconds: float, framework_id: str | None) -> None:
        if framework_id is None:
            self.event_delay = seconds
        master = self._require_leader()
        for framework in master.frameworks.values():
            if framework.sink is not None and framework_id in (None, framework.id):
                framework.sink.delay = seconds

    def failover_master(self) -> str:
        """Crash the leading master; return the ``url`` of the newly elected one.

        The crashed master restarts as a standby after ``master_restart_delay``.
        """
        return self._await(self._failover(), timeout=_START_TIMEOUT + 30)

    async def _failover(self) -> str:
        server = self.leader_server()
        if server is None:
            raise SimError("no leading master")
        assert server.master is not None and self._election is not None
        old = server.master
        old.crash()
        server.master = None
        await server.stop()
        await self._election.leave(old.id)
        loop = asyncio.get_running_loop()

        async def restart() -> None:
            await asyncio.sleep(self.config.timing.master_restart_delay)
            if not self._stopping:
                await self._boot(server)

        restarting = loop.create_task(restart())
        self._tasks.add(restarting)
        restarting.add_done_callback(self._tasks.discard)
        if len(self.servers) == 1:
            await restarting
        new = await self._wait_leader()
        if restarting.done():
            restarting.result()
        for s in self.servers:
            if s.master is new:
                return s.url
        raise SimError("leader has no server")

    async def _fault(self, fault: dict[str, Any]) -> dict[str, Any]:
        """The ``POST /admin/fault`` body: ``{"type": "KILL_AGENT", "agent_id": ...}``."""
        kind = fault["type"]
        if kind == "KILL_AGENT":
            self._kill_agent(str(fault["agent_id"]))
        elif kind == "PARTITION_AGENT":
            self._partition_agent(str(fault["agent_id"]))
        elif kind == "HEAL_AGENT":
            self._heal_agent(str(fault["agent_id"]))
        elif kind == "RESTART_AGENT":
            self._restart_agent(str(fault["agent_id"]))
        elif kind == "READ_VOLUME":
            return {
                "data": dict(self._volume(str(fault["agent_id"]), str(fault["persistence_id"])))
            }
        elif kind == "WRITE_VOLUME":
            volume = self._volume(str(fault["agent_id"]), str(fault["persistence_id"]))
            volume[str(fault["key"])] = str(fault["value"])
        elif kind == "MARK_AGENT_GONE":
            self._require_leader().mark_gone(self._agent(str(fault["agent_id"])).id)
        elif kind == "SET_HEALTH":
            self._set_health(str(fault["task_id"]), bool(fault["passing"]))
        elif kind == "DROP_STREAM":
            return {"dropped": self._require_leader().drop_stream(str(fault["framework_id"]))}
        elif kind == "DELAY_EVENTS":
            framework_id = fault.get("framework_id")
            self._delay_events(
                float(fault["seconds"]), None if framework_id is None else str(framework_id)
            )
        elif kind == "FAILOVER_MASTER":
            # In a task of its own: the request may be served by the master that dies.
            failing_over = asyncio.get_running_loop().create_task(self._failover())
            self._tasks.add(failing_over)
            failing_over.add_done_callback(self._tasks.discard)
            return {"failing_over": True}
        else:
            raise ValueError(f"unknown fault type {kind!r}")
        return {}
