"""Leader election among scheduler processes, through ZooKeeper, with fencing epochs.

Each candidate holds an ephemeral sequential znode ``<path>/candidates/c_<seq>``;
the lowest sequence leads. On winning, the leader bumps ``<path>/epoch`` with
a versioned write: the new value is its term, and the znode's version at that
moment is the fencing token the store checks on every write (a deposed
leader's writes fail because the version moved on).

Losing the ZooKeeper connection means stepping down at once: on SUSPENDED
(before the session may have expired and someone else been elected) the
leader is revoked; if the session survives and it is still the lowest, it is
elected again with a new epoch, never resumed silently.

Callbacks run on one thread of the election's own, in order, never on
kazoo's threads; they may block (the scheduler's shutdown does).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from ark.errors import ElectionError
from ark.extras import require

__all__ = ["ElectionError", "LeaderElection", "Term"]

log = logging.getLogger(__name__)


class Term:
    """One leadership: ``epoch`` counts terms; ``version`` fences the store's writes."""

    __slots__ = ("epoch", "epoch_path", "version")

    def __init__(self, epoch: int, version: int, epoch_path: str) -> None:
        self.epoch = epoch
        self.version = version
        self.epoch_path = epoch_path

    def __repr__(self) -> str:
        return f"Term(epoch={self.epoch}, version={self.version})"


class LeaderElection:
    """Compete for leadership of ``path`` until :meth:`stop`.

    Parameters
    ----------
    hosts
        ZooKeeper's ``host:port[,host:port]``.
    path
        The election's znode (created if missing).
    on_elected
        Called with the new :class:`Term` when this process becomes leader.
    on_revoked
        Called when it stops being leader (connection suspended or lost,
        or :meth:`stop`); it must stop acting at once.
    identity
        Stored in the candidate znode, for operators.
    session_timeout
        ZooKeeper session timeout in seconds: how long a dead leader blocks
        the next one.
    """

    def __init__(
        self,
        hosts: str,
        path: str,
        on_elected: Callable[[Term], None],
        on_revoked: Callable[[], None],
        *,
        identity: str = "",
        session_timeout: float = 10.0,
    ) -> None:
        # kazoo ships no type information.
        kazoo = require("kazoo.client", "leader election (ark.high_availability.Standby)")

        self._path = path.rstrip("/")
        self._candidates = f"{self._path}/candidates"
        self._epoch_path = f"{self._path}/epoch"
        self._identity = identity.encode()
        self._on_elected = on_elected
        self._on_revoked = on_revoked
        self._zk: Any = kazoo.KazooClient(hosts=hosts, timeout=session_timeout)
        self._events: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._node: str | None = None
        self._term: Term | None = None
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="ark-election", daemon=True)

    @property
    def term(self) -> Term | None:
        """The current term while leading, else ``None``."""
        return self._term

    @property
    def is_leader(self) -> bool:
        """Whether this process leads now."""
        return self._term is not None

    @property
    def client(self) -> Any:
        """The ``kazoo`` client of this election's session (for the store)."""
        return self._zk

    def start(self, timeout: float = 30.0) -> LeaderElection:
        """Connect and enter the election; returns once a candidate.

        Raises
        ------
        ElectionError
            ZooKeeper is not reachable within ``timeout``.
        """
        try:
            self._zk.start(timeout)
        except Exception as exc:
            raise ElectionError(f"ZooKeeper unreachable: {exc!r}") from exc
        self._zk.add_listener(self._state_changed)
        self._worker.start()
        self._events.put("join")
        return self

    def stop(self) -> None:
        """Leave the election (revoking first if leading) and close the session."""
        self._stopping = True
        self._events.put(None)
        self._worker.join(30)
        self._zk.stop()
        self._zk.close()

    # --- kazoo's threads: only enqueue ------------------------------------------------

    def _state_changed(self, state: str) -> None:
        self._events.put(f"state:{state}")

    def _children_changed(self, event: Any = None) -> None:
        self._events.put("check")

    # --- the election's own thread ------------------------------------------------------

    def _run(self) -> None:
        while True:
            event = self._events.get()
            try:
                if event is None:
                    self._revoke("stopping")
                    return
                if event == "state:SUSPENDED":
                    self._revoke("ZooKeeper connection suspended")
                elif event == "state:LOST":
                    self._revoke("ZooKeeper session lost")
                    self._node = None
                elif event == "state:CONNECTED":
                    self._events.put("join" if self._node is None else "check")
                elif event == "join":
                    self._join()
                elif event == "check":
                    self._check()
            except Exception:
                # A ZooKeeper error mid-way: not leading is the safe state; the
                # connection listener brings the next attempt.
                log.exception("ark: election step %r failed", event)
                self._revoke("election error")

    def _join(self) -> None:
        if self._stopping or not self._zk.connected:
            return
        self._zk.ensure_path(self._candidates)
        if not self._zk.exists(self._epoch_path):
            # Another candidate may create it first; either way it exists after.
            with contextlib.suppress(Exception):
                self._zk.create(self._epoch_path, b"0")
        self._node = self._zk.create(
            f"{self._candidates}/c_", self._identity, ephemeral=True, sequence=True
        )
        log.info("ark: candidate %s", self._node)
        self._check()

    def _check(self) -> None:
        if self._stopping or self._node is None or not self._zk.connected:
            return
        children = self._zk.get_children(self._candidates, watch=self._children_changed)
        name = self._node.rsplit("/", 1)[1]
        if name not in children:
            # Our znode went with an expired session: join again.
            self._revoke("candidate znode gone")
            self._node = None
            self._events.put("join")
            return
        lowest = min(children, key=lambda c: int(c.rsplit("_", 1)[1]))
        if lowest != name:
            self._revoke(f"{lowest} leads")
            return
        if self._term is None:
            self._elect()

    def _elect(self) -> None:
        from kazoo.exceptions import BadVersionError  # type: ignore[import-untyped]

        while True:
            data, stat = self._zk.get(self._epoch_path)
            epoch = int(data or b"0") + 1
            # One transaction: the epoch moves only while our candidate znode
            # still exists, so a session that expired meanwhile cannot start a term.
            tx = self._zk.transaction()
            tx.check(self._node, 0)
            tx.set_data(self._epoch_path, str(epoch).encode(), version=stat.version)
            member, bumped = tx.commit()
            if isinstance(member, Exception):
                log.warning("ark: candidate znode gone before the term began: %r", member)
                self._node = None
                self._events.put("join")
                return
            if isinstance(bumped, BadVersionError):
                continue
            if isinstance(bumped, Exception):
                raise bumped
            break
        self._term = Term(epoch, bumped.version, self._epoch_path)
        log.info("ark: elected leader, %r", self._term)
        self._on_elected(self._term)

    def _revoke(self, why: str) -> None:
        if self._term is None:
            return
        log.warning("ark: leadership revoked: %s", why)
        self._term = None
        self._on_revoked()
