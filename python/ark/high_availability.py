"""Several scheduler processes, one leader: only the leader subscribes to Mesos.

Each process runs a :class:`Standby`. When elected it builds a fresh
:class:`~ark.Scheduler` over a :class:`~ark.store.ZooKeeperStore` fenced by
its term, which subscribes with the stored framework id, tracks every stored
task and reconciles them all before taking offers. When its leadership is
revoked (ZooKeeper suspended, session lost, or the store refuses a write) it
stops calling Mesos at once, then shuts that scheduler down with failover, so
Mesos keeps the tasks running for the next leader.

The first leader chooses the framework id and stores it before it
subscribes with it (Mesos takes a subscription with an id it does not know
as a framework failing over to it). Left to Mesos, the id would exist only
once SUBSCRIBED came back, and a leader deposed before it could store it
would leave a framework behind that no later leader knows of.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ark.election import LeaderElection, Term
from ark.scheduler import Scheduler
from ark.store import Store, ZooKeeperStore

__all__ = ["SchedulerFactory", "Standby"]

log = logging.getLogger(__name__)

#: Builds the scheduler of one term: ``(store, on_fenced, term) -> Scheduler``.
SchedulerFactory = Callable[[Store, Callable[[], None], Term], Scheduler[Any]]


class Standby:
    """Competes for leadership and runs a scheduler only while leading.

    Parameters
    ----------
    zk_hosts, path
        The ZooKeeper ensemble and this framework's znode (election and store).
    make_scheduler
        Builds a new scheduler (with a new driver) for each term.
    session_timeout
        ZooKeeper session timeout: a dead leader is replaced after about this long.
    """

    def __init__(
        self,
        zk_hosts: str,
        path: str,
        make_scheduler: SchedulerFactory,
        *,
        identity: str = "",
        session_timeout: float = 10.0,
    ) -> None:
        self._path = path.rstrip("/")
        self._make = make_scheduler
        self._lock = threading.Lock()
        self._scheduler: Scheduler[Any] | None = None
        self.terms: list[Term] = []
        self._election = LeaderElection(
            zk_hosts,
            self._path,
            self._elected,
            self._revoked,
            identity=identity,
            session_timeout=session_timeout,
        )

    @property
    def scheduler(self) -> Scheduler[Any] | None:
        """The running scheduler while leading, else ``None``."""
        return self._scheduler

    def start(self) -> Standby:
        """Join the election; returns at once."""
        self._election.start()
        return self

    def stop(self) -> None:
        """Leave the election; a running scheduler shuts down with failover."""
        self._election.stop()

    def _elected(self, term: Term) -> None:
        store = ZooKeeperStore(self._election.client, f"{self._path}/state", term)
        if store.load().framework_id is None:
            # Fenced like every write: of two first leaders, one stores its id.
            store.apply(f"ark-{uuid.uuid4()}", [], [])
        scheduler = self._make(store, self._fenced, term)
        with self._lock:
            self._scheduler = scheduler
            self.terms.append(term)
        # A corrupt store raises here: the election thread logs it and we
        # stay a leader doing nothing, which is safe, and loud.
        scheduler.start()

    def _revoked(self) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            # Not one more call, not even those queued: the next leader may
            # be elected before this shutdown ends.
            scheduler.stop_calling()
            scheduler.shutdown(failover=True)

    def _fenced(self) -> None:
        # Called on the loop thread, which shutdown joins: hand it to another.
        threading.Thread(target=self._revoked, name="ark-fenced", daemon=True).start()
