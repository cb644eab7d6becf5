"""The file store on a disk that fills up or turns read-only under a running scheduler.

A real small disk: a tmpfs of its own, filled with a file or remounted
read-only (so these tests need root, as CI has; they skip otherwise). The
write ahead of a relaunch fails: a clear error, the scheduler calls Mesos
no more, and once the disk is fixed the store loads and a new scheduler
takes over from it with nothing lost or doubled.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from checker import wait_for_steady
from proxy import FaultProxy
from scheduler_process import SPEC, TERM_IDS
from test_master_faults import kill_every_copy

from ark import Scheduler
from ark.drivers import V1Driver
from ark.examples.everywhere.framework import Everywhere, EverywhereManager
from ark.sim import Cluster
from ark.store import FileStore
from waiting import wait_until


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small disk needs root")
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        while subprocess.run(["umount", "-l", str(where)], capture_output=True).returncode == 0:
            pass  # the read-only mount over it, then the disk


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def scheduler_on(store: FileStore, proxy: FaultProxy, run: int) -> Scheduler[Everywhere]:
    """The example framework; ``run`` keeps the task ids of two runs apart
    (the example numbers its launches from 0 in each process)."""
    driver = V1Driver(
        proxy.address, {"name": "everywhere-faults", "user": "test"}, backoff_seconds=0.05
    )
    state = Everywhere(launched=run * TERM_IDS)
    return Scheduler(EverywhereManager(SPEC), state, driver, store=store, reconcile_seconds=1.0)


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_failed_store_write_stops_the_calls_and_the_store_loads_after(
    cluster: Cluster,
    master_proxy: FaultProxy,
    disk: Path,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = disk / "store"
    store = FileStore(path)
    scheduler = scheduler_on(store, master_proxy, 0).start()
    try:
        assert not wait_for_steady(cluster, 20)
        framework_id = scheduler.snapshot().framework_id
        if fault == "full":
            # Compact first: the next write then needs a new block, not the
            # free end of the log's last one.
            store.save(store.load())
            fill(disk)
            why = "No space left on device"
        else:
            # The disk as the store sees it turns read-only: a read-only
            # mount over it (a remount would refuse: the lock is open to write).
            subprocess.run(["mount", "--bind", str(disk), str(disk)], check=True)
            subprocess.run(["mount", "-o", "remount,ro,bind", str(disk)], check=True)
            why = "Read-only file system"
        with caplog.at_level(logging.CRITICAL, logger="ark.persistence"):
            kill_every_copy(cluster)
            record = wait_until(
                lambda: next(
                    (r for r in caplog.records if "calling Mesos" in r.getMessage()), None
                ),
                10,
                "the failed write",
            )
        message = record.getMessage()
        assert why in message and str(path) in message, message
        time.sleep(1.5)  # offers, reconciliation: all would call Mesos
        # The calls of the batch being written when it failed may still go.
        assert master_proxy.requests_after(record.created + 0.05) == []
        assert scheduler._thread is not None and scheduler._thread.is_alive()
        assert cluster.state()["frameworks"][0]["id"] == framework_id
    finally:
        scheduler.shutdown()
        store.close()

    if fault == "full":
        (disk / "filler").unlink()
    else:
        subprocess.run(["umount", str(disk)], check=True)
    with FileStore(path) as again:
        assert again.load().framework_id == framework_id
    with FileStore(path) as again:
        scheduler = scheduler_on(again, master_proxy, 1).start()
        try:
            found = wait_for_steady(cluster, 20)
            assert not found, found
        finally:
            scheduler.shutdown()
    with contextlib.suppress(FileNotFoundError):
        (disk / "filler").unlink()
