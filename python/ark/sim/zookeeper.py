"""Master registration and election in a real ZooKeeper, as Mesos masters do.

Each master holds its own session and creates an ephemeral sequential znode
``<path>/json.info_<seq>`` with its JSON ``MasterInfo``; the lowest sequence
leads; a persistent ``<path>/log_replicas`` sits beside them. A crashed
master's session closes and its znode disappears. Kazoo runs its own
threads: every blocking call goes to an executor and every watch callback
is handed back to the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

# kazoo ships no type information.
from kazoo.client import KazooClient  # type: ignore[import-untyped]
from kazoo.exceptions import NoNodeError  # type: ignore[import-untyped]
from kazoo.recipe.watchers import ChildrenWatch  # type: ignore[import-untyped]

from ark.drivers.detector import ZNODE_PREFIX

from .election import LeaderCallback

__all__ = ["ZooKeeperElection"]

log = logging.getLogger(__name__)

_TIMEOUT = 10.0


class ZooKeeperElection:
    """Masters contend in ZooKeeper under ``path`` on ``hosts``."""

    def __init__(self, hosts: str, path: str) -> None:
        self.hosts = hosts
        self.path = "/" + path.strip("/")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: KazooClient | None = None
        self._sessions: dict[str, tuple[KazooClient, str]] = {}
        self._on_leader: LeaderCallback | None = None
        self._leader: dict[str, Any] | None = None
        self._leader_node: str | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(None, fn, *args)

    async def start(self, on_leader: LeaderCallback) -> None:
        """Connect a watching session and follow the lowest ``json.info_`` child."""
        self._loop = asyncio.get_running_loop()
        self._on_leader = on_leader
        watcher = KazooClient(hosts=self.hosts, timeout=_TIMEOUT)
        await self._run(watcher.start, _TIMEOUT)
        self._watcher = watcher
        await self._run(watcher.ensure_path, self.path)
        await self._run(watcher.ensure_path, f"{self.path}/log_replicas")
        ChildrenWatch(watcher, self.path, self._children)

    def _children(self, children: list[str]) -> None:
        # Runs on a kazoo thread.
        candidates = sorted(c for c in children if c.startswith(ZNODE_PREFIX))
        node = candidates[0] if candidates else None
        info: dict[str, Any] | None = None
        if node is not None and self._watcher is not None:
            try:
                data, _ = self._watcher.get(f"{self.path}/{node}")
                info = json.loads(data)
            except (NoNodeError, ValueError):
                log.warning("leader znode %s vanished or is not JSON", node)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._set_leader, node, info)

    def _set_leader(self, node: str | None, info: dict[str, Any] | None) -> None:
        if node == self._leader_node:
            return
        self._leader_node = node
        self._leader = info
        if self._on_leader is not None:
            self._on_leader(info)

    async def join(self, key: str, info: dict[str, Any]) -> None:
        """Open this master's session and create its ephemeral sequential znode."""
        client = KazooClient(hosts=self.hosts, timeout=_TIMEOUT)
        await self._run(client.start, _TIMEOUT)
        data = json.dumps(info).encode()
        path = await self._run(
            lambda: client.create(
                f"{self.path}/{ZNODE_PREFIX}", data, ephemeral=True, sequence=True, makepath=True
            )
        )
        self._sessions[key] = (client, path)

    async def leave(self, key: str) -> None:
        """Close the master's session: its ephemeral znode goes with it."""
        entry = self._sessions.pop(key, None)
        if entry is None:
            return
        client, _ = entry
        await self._run(client.stop)
        await self._run(client.close)

    def leader(self) -> dict[str, Any] | None:
        """The leader's MasterInfo as read from its znode."""
        return self._leader

    async def stop(self) -> None:
        """Close every session."""
        for key in list(self._sessions):
            await self.leave(key)
        if self._watcher is not None:
            watcher, self._watcher = self._watcher, None
            await self._run(watcher.stop)
            await self._run(watcher.close)
