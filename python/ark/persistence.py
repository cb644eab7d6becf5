"""What the scheduler writes to its store, and when.

Before effects go out, :meth:`Persistence.write` records what they depend on:
the framework id, and an intent for each task an ACCEPT launches, with the
request the core placed it from (``Snapshot.requests``, one call per write).
Only the change is written. Along with it go the intents settled since: confirmed
once Mesos reported their task, dropped once it ended. The core is asked
about them once per write, for the intents not yet confirmed (few: launches
in flight) and, at most every ``sweep_seconds``, for all of them (a
confirmed task that ended since).

Each group's rolling update is written when it changes (deployed, a failure
counted, a phase changed), and each volume a Replace gives up from when it
is begun until it is given up: :meth:`Persistence.write_progress`, once per
batch, after the batch's calls (a crash may lose the last batch's change).
A store of the user's own written before these were stored (its ``apply``
takes no ``deployments`` or no ``releases``) keeps working: what it does not
take is not written, and a new leader does not resume it (said once, as a
warning).

A write that fails ends writing for good: fenced (another leader), or
unwritable (a full or read-only disk, ZooKeeper out of reach). The calls
that depended on it must not go out, nor any later one that would depend on
an earlier write: ``on_stop`` is told once, and the scheduler stops calling
Mesos.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Sequence

from ark.core import Snapshot
from ark.store import Intent, Record, Store, StoreFenced, StoreUnwritable

__all__ = ["Persistence"]

log = logging.getLogger(__name__)


class Persistence:
    """The scheduler's side of its :class:`~ark.store.Store` (``None``: nothing kept)."""

    def __init__(
        self,
        store: Store | None,
        on_stop: Callable[[], None] | None = None,
        *,
        sweep_seconds: float = 10.0,
    ) -> None:
        self._store = store
        self._on_stop = on_stop
        self._stopped = False
        self._framework_id: str | None = None
        # Stored intents: task id -> agent id; and those not yet confirmed.
        self._intents: dict[str, str] = {}
        self._unconfirmed: set[str] = set()
        self._sweep_seconds = sweep_seconds
        self._next_sweep = 0.0
        # Stored deployments: group -> its msgpack ResumeDeployment; and
        # releases: persistence id -> its msgpack ResumeRelease.
        self._deployments: dict[str, bytes] = {}
        self._releases: dict[str, bytes] = {}
        # How many of apply()'s optional arguments the store takes: 2 as the
        # protocol says; 1 (deployments) or 0 for a store written before.
        self._takes = 2 if store is None else _optional_arguments(store)
        if self._takes < 2:
            missing = "rolling updates and volume releases" if self._takes == 0 else "releases"
            log.warning(
                "ark: %s.apply() takes no %s: a new leader will not resume those in progress",
                type(store).__name__,
                missing,
            )

    def load(self) -> Record:
        """The stored record (empty without a store).

        Raises
        ------
        StoreCorrupt
            The store cannot be read.
        """
        if self._store is None:
            return Record()
        record = self._store.load()
        self._framework_id = record.framework_id
        self._intents = {i.task_id: i.agent_id for i in record.intents.values()}
        self._unconfirmed = {i.task_id for i in record.intents.values() if not i.confirmed}
        self._deployments = dict(record.deployments)
        self._releases = dict(record.releases)
        return record

    @property
    def enabled(self) -> bool:
        """Whether there is a store to write ahead to."""
        return self._store is not None

    def behind(self, framework_id: str | None) -> bool:
        """Whether the store does not yet hold this framework id."""
        return self._store is not None and framework_id != self._framework_id

    def write(self, snapshot: Snapshot, launches: Sequence[tuple[str, str]]) -> bool:
        """Write what the next calls depend on, the framework id and these
        ``(task_id, agent_id)`` launches, before they go out; False once a
        write failed (fenced or unwritable): nothing may go out then."""
        if self._stopped:
            return False
        store = self._store
        if store is None:
            return True
        framework_id = snapshot.framework_id
        if framework_id == self._framework_id and not launches:
            return True
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_seconds
            candidates = list(self._intents)
        else:
            candidates = list(self._unconfirmed)
        reported, ended = snapshot.settled(candidates) if candidates else ([], [])
        confirmed = [t for t in reported if t in self._unconfirmed]
        # A confirmation leaves the request out: the store keeps the one it has.
        added = [Intent(t, self._intents[t], confirmed=True) for t in confirmed]
        requests = snapshot.requests([task_id for task_id, _ in launches]) if launches else []
        added += [
            Intent(task_id, agent_id, request=request)
            for (task_id, agent_id), request in zip(launches, requests, strict=True)
        ]
        try:
            store.apply(framework_id, added, ended)
        except StoreFenced as exc:
            return self._stop(f"fenced: {exc}")
        except StoreUnwritable as exc:
            return self._stop(str(exc))
        except Exception as exc:  # a Store of the user's own
            return self._stop(f"the store cannot be written: {exc!r}")
        self._framework_id = framework_id
        self._unconfirmed.difference_update(confirmed)
        for task_id in ended:
            self._intents.pop(task_id, None)
            self._unconfirmed.discard(task_id)
        for task_id, agent_id in launches:
            self._intents[task_id] = agent_id
            self._unconfirmed.add(task_id)
        return True

    def write_progress(self, snapshot: Snapshot) -> bool:
        """Write the deployments that changed and the releases begun or ended
        since the last write (none: no write); False once a write failed."""
        if self._stopped:
            return False
        store = self._store
        if store is None or self._takes == 0:
            return True
        deployments = {
            group: resume
            for group, resume in snapshot.stored_deployments()
            if self._deployments.get(group) != resume
        }
        releases: dict[str, bytes | None] = {}
        if self._takes == 2:
            now = dict(snapshot.stored_releases())
            releases = {pid: resume for pid, resume in now.items() if pid not in self._releases}
            releases.update((pid, None) for pid in self._releases if pid not in now)
        if not deployments and not releases:
            return True
        try:
            if self._takes == 2:
                store.apply(None, [], [], deployments, releases)
            else:
                store.apply(None, [], [], deployments)
        except StoreFenced as exc:
            return self._stop(f"fenced: {exc}")
        except StoreUnwritable as exc:
            return self._stop(str(exc))
        except Exception as exc:  # a Store of the user's own
            return self._stop(f"the store cannot be written: {exc!r}")
        self._deployments.update(deployments)
        for pid, resume in releases.items():
            if resume is None:
                del self._releases[pid]
            else:
                self._releases[pid] = resume
        return True

    @property
    def stopped(self) -> bool:
        """Whether a write failed: nothing may be sent to Mesos any more."""
        return self._stopped

    def _stop(self, why: str) -> bool:
        log.critical("ark: %s; calling Mesos no more", why)
        self._stopped = True
        if self._on_stop is not None:
            self._on_stop()
        return False


def _optional_arguments(store: Store) -> int:
    """How many of the protocol's optional arguments of ``store.apply``
    (``deployments``, ``releases``) it takes, in order."""
    try:
        signature = inspect.signature(store.apply)
    except (TypeError, ValueError):  # nothing to read it from: assume the protocol
        return 2
    for taken in (2, 1):
        try:
            signature.bind(None, [], [], *([{}] * taken))
        except TypeError:
            continue
        return taken
    return 0
