"""Leader election among simulated masters.

Contenders hold increasing sequence numbers and the lowest one leads, which
is how Mesos masters elect through ZooKeeper. `LocalElection` does it in
memory; `ark.sim.zookeeper.ZooKeeperElection` does it in a real ZooKeeper.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Election", "LeaderCallback", "LocalElection"]

#: Called on the event loop with the leader's MasterInfo, or None.
LeaderCallback = Callable[[dict[str, Any] | None], None]


class Election(Protocol):
    """What the cluster needs from an election."""

    async def start(self, on_leader: LeaderCallback) -> None:
        """Begin watching; ``on_leader`` is called on every leadership change."""

    async def join(self, key: str, info: dict[str, Any]) -> None:
        """Enter the contest as ``key`` (a master id), advertising ``info``."""

    async def leave(self, key: str) -> None:
        """Leave the contest, as a crashed master's session ends."""

    def leader(self) -> dict[str, Any] | None:
        """The current leader's MasterInfo, if any."""

    async def stop(self) -> None:
        """Release every resource."""


class LocalElection:
    """An in-memory election: the lowest sequence number leads."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._contenders: dict[str, tuple[int, dict[str, Any]]] = {}
        self._on_leader: LeaderCallback | None = None
        self._leader: dict[str, Any] | None = None

    async def start(self, on_leader: LeaderCallback) -> None:
        """Remember the callback."""
        self._on_leader = on_leader

    async def join(self, key: str, info: dict[str, Any]) -> None:
        """Add a contender with the next sequence number."""
        self._contenders[key] = (next(self._seq), info)
        self._changed()

    async def leave(self, key: str) -> None:
        """Remove a contender."""
        self._contenders.pop(key, None)
        self._changed()

    def leader(self) -> dict[str, Any] | None:
        """The lowest-numbered contender's info."""
        return self._leader

    async def stop(self) -> None:
        """Nothing to release."""
        self._contenders.clear()

    def _changed(self) -> None:
        leader = min(self._contenders.values(), key=lambda c: c[0])[1] if self._contenders else None
        if leader is not self._leader:
            self._leader = leader
            if self._on_leader is not None:
                self._on_leader(leader)
