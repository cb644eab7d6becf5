"""The scheduler's writes to its store: only the change, with the intents settled since."""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

import pytest

from ark import effects as fx
from ark import messages as m
from ark.core import Reducer
from ark.persistence import Persistence
from ark.store import FileStore, Intent, Record, StoreUnwritable

WEB = m.TaskRequest("web-1", [m.Resource("cpus", 1.0)], group="web")


def accept(*task_ids: str, agent: str = "a1") -> list[tuple[str, str]]:
    """The launches of an ACCEPT, as the core hands them to persistence."""
    return [(t, agent) for t in task_ids]


def update(task_id: str, state: m.TaskState) -> m.Update:
    return m.Update(m.TaskStatus(task_id, state, "a1", source="SOURCE_AGENT"))


class CountingStore(FileStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.applied: list[tuple[str | None, list[Intent], list[str]]] = []

    def apply(self, framework_id: str | None, added: object, removed: object) -> None:
        added, removed = list(added), list(removed)  # type: ignore[call-overload]
        self.applied.append((framework_id, added, removed))
        super().apply(framework_id, added, removed)


def test_writes_carry_launches_confirmations_and_ends(tmp_path: Path) -> None:
    core = Reducer()
    with CountingStore(tmp_path / "store") as store:
        persistence = Persistence(store, sweep_seconds=0.0)
        assert persistence.load() == Record()
        core.step(m.Subscribed("fw"), 0.0)
        # Nothing to write: no launch, no new framework id... but the id is new.
        assert persistence.write(core.snapshot(), [])
        assert store.applied[-1] == ("fw", [], [])
        assert persistence.write(core.snapshot(), [])
        assert len(store.applied) == 1  # nothing changed, nothing written
        for t in ("t1", "t2", "t3"):
            core.step(m.Track(t, "a1"), 1.0)
        assert persistence.write(core.snapshot(), accept("t1", "t2", "t3"))
        core.step(update("t1", "TASK_RUNNING"), 2.0)
        core.step(update("t2", "TASK_FAILED"), 2.0)
        core.step(m.Track("t4", "a1"), 3.0)
        assert persistence.write(core.snapshot(), accept("t4"))
        _, added, removed = store.applied[-1]
        assert added == [Intent("t1", "a1", confirmed=True), Intent("t4", "a1")]
        assert removed == ["t2"]
        # A confirmed task that ends is dropped by the next sweep.
        core.step(update("t1", "TASK_FINISHED"), 4.0)
        core.step(m.Track("t5", "a1"), 4.0)
        assert persistence.write(core.snapshot(), accept("t5"))
        assert store.applied[-1][2] == ["t1"]
        assert store.load() == Record("fw", {t: Intent(t, "a1") for t in ("t3", "t4", "t5")})


def test_without_a_sweep_only_unconfirmed_intents_are_asked_about(tmp_path: Path) -> None:
    core = Reducer()
    with CountingStore(tmp_path / "store") as store:
        persistence = Persistence(store, sweep_seconds=3600.0)
        persistence.load()
        core.step(m.Subscribed("fw"), 0.0)
        core.step(m.Track("t1", "a1"), 0.0)
        persistence.write(core.snapshot(), accept("t1"))  # the first write sweeps
        core.step(update("t1", "TASK_RUNNING"), 1.0)
        core.step(m.Track("t2", "a1"), 1.0)
        persistence.write(core.snapshot(), accept("t2"))
        assert store.applied[-1][1][0] == Intent("t1", "a1", confirmed=True)
        core.step(update("t1", "TASK_FINISHED"), 2.0)
        core.step(m.Track("t3", "a1"), 2.0)
        persistence.write(core.snapshot(), accept("t3"))
        assert store.applied[-1][2] == []  # t1 is confirmed: left to the next sweep


class FailingStore(FileStore):
    """A file store whose writes fail from the second on, as a disk filling up."""

    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(path)
        self.error = error
        self.writes = 0

    def _append(self, entries: list[bytes]) -> None:
        self.writes += 1
        if self.writes > 1:
            raise self.error
        super()._append(entries)


def test_a_failed_write_stops_writing_for_good_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = Reducer()
    stopped: list[bool] = []
    error = OSError(errno.ENOSPC, "No space left on device")
    with FailingStore(tmp_path / "store", error) as store:
        persistence = Persistence(store, lambda: stopped.append(True))
        persistence.load()
        core.step(m.Subscribed("fw"), 0.0)
        assert persistence.write(core.snapshot(), [])
        core.step(m.Track("t1", "a1"), 1.0)
        with caplog.at_level(logging.CRITICAL, logger="ark.persistence"):
            assert not persistence.write(core.snapshot(), accept("t1"))
        assert persistence.stopped and stopped == [True]
        (record,) = caplog.records
        assert "No space left on device (errno 28)" in record.getMessage()
        assert str(tmp_path / "store") in record.getMessage()
        # Never again, even once the disk has room: what failed is not stored.
        store.writes = 0
        assert not persistence.write(core.snapshot(), accept("t1"))
        assert stopped == [True]
    with FileStore(tmp_path / "store") as again:
        assert again.load() == Record("fw", {})


def test_the_store_names_what_failed(tmp_path: Path) -> None:
    error = OSError(errno.EROFS, "Read-only file system")
    with FailingStore(tmp_path / "store", error) as store:
        store.apply("fw", [], [])
        with pytest.raises(StoreUnwritable, match="Read-only file system"):
            store.apply(None, [Intent("t1", "a1")], [])


def test_a_store_without_deployments_keeps_working_without_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A user's store from before deployments were stored: a rolling update
    neither stops the scheduler nor is written; a warning says so once."""
    core = Reducer()
    with CountingStore(tmp_path / "store") as store:
        with caplog.at_level(logging.WARNING, logger="ark.persistence"):
            persistence = Persistence(store)
        (warning,) = caplog.records
        assert "CountingStore.apply() takes no rolling updates and volume releases" in (
            warning.getMessage()
        )
        persistence.load()
        core.step(m.Subscribed("fw"), 0.0)
        core.step(m.Deploy("web", WEB, 1), 0.0)
        assert core.snapshot().stored_deployments()
        assert persistence.write(core.snapshot(), [])
        assert persistence.write_progress(core.snapshot())
        assert not persistence.stopped
        assert [framework_id for framework_id, _, _ in store.applied] == ["fw"]
    with FileStore(tmp_path / "store") as again:
        assert again.load() == Record("fw", {})


def test_the_protocols_store_writes_deployments(tmp_path: Path) -> None:
    core = Reducer()
    with FileStore(tmp_path / "store") as store:
        persistence = Persistence(store)
        persistence.load()
        core.step(m.Subscribed("fw"), 0.0)
        core.step(m.Deploy("web", WEB, 1), 0.0)
        assert persistence.write(core.snapshot(), [])
        assert persistence.write_progress(core.snapshot())
    with FileStore(tmp_path / "store") as again:
        assert list(again.load().deployments) == ["web"]


DB = m.TaskRequest(
    "db-0",
    [m.Resource("cpus", 1.0)],
    volume=m.Volume("db-0-data", "data", 64.0, "db", principal="ark"),
)
DB_VOLUME = m.Resource(
    "disk",
    scalar=64.0,
    role="db",
    reservations=[m.Reservation("db", principal="ark")],
    persistence_id="db-0-data",
    container_path="data",
)


def test_a_release_is_stored_from_its_replace_until_the_volume_is_given_up(
    tmp_path: Path,
) -> None:
    core = Reducer()
    core.step(m.Track("db-0", "a1", DB), 0.0)
    core.step(m.Subscribed("fw"), 0.0)
    core.step(m.Update(m.TaskStatus("db-0", "TASK_RUNNING", "a1", source="SOURCE_MASTER")), 0.0)
    with FileStore(tmp_path / "store") as store:
        persistence = Persistence(store)
        persistence.load()
        assert persistence.write(core.snapshot(), [])
        assert core.step(m.Replace("db-0"), 1.0) == [fx.Kill("db-0", "a1")]
        assert persistence.write_progress(core.snapshot())
        (stored,) = store.load().releases.values()
        assert m.decode(stored) == m.ResumeRelease("db-0-data", "a1", "db", 64.0, "data", "ark")
        core.step(m.Update(m.TaskStatus("db-0", "TASK_KILLED", "a1", source="SOURCE_AGENT")), 2.0)
        offer = m.Offer("o1", "a1", "h1", [m.Resource("cpus", 4.0), DB_VOLUME])
        (accept, *_) = core.step(m.Offers([offer]), 3.0)
        assert isinstance(accept, fx.Accept)
        assert [op.type for op in accept.operations] == ["DESTROY", "UNRESERVE"]
        assert persistence.write_progress(core.snapshot())
        assert store.load().releases == {}


def test_a_store_that_takes_deployments_but_not_releases(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class DeploymentsOnly(FileStore):
        def apply(  # type: ignore[override]
            self, framework_id: str | None, added: Any, removed: Any, deployments: Any = None
        ) -> None:
            super().apply(framework_id, added, removed, deployments)

    core = Reducer()
    core.step(m.Track("db-0", "a1", DB), 0.0)
    core.step(m.Subscribed("fw"), 0.0)
    core.step(m.Deploy("web", WEB, 1), 0.0)
    core.step(m.Replace("db-0"), 1.0)
    with DeploymentsOnly(tmp_path / "store") as store:
        with caplog.at_level(logging.WARNING, logger="ark.persistence"):
            persistence = Persistence(store)
        (warning,) = caplog.records
        assert "takes no releases" in warning.getMessage()
        persistence.load()
        assert persistence.write(core.snapshot(), [])
        assert persistence.write_progress(core.snapshot())
        record = store.load()
        assert list(record.deployments) == ["web"] and record.releases == {}
