"""The durable state a scheduler needs to survive its own death.

One file of over 600 lines on purpose: the record format, its versions and
both stores (file, ZooKeeper) share the encoding and the checks on load, and
read best side by side.

What is kept is little and written before the effect that depends on it:
the framework id (before any call uses it) and every task launch intended
(before its ACCEPT is sent), with the request the task was placed from, each
marked confirmed once Mesos has reported the task. A crash between the write
and the call leaves an intent that the next leader reconciles, never a task
nobody knows of; its request gives the task back its group, unreachable
strategy and volume (docs/reducer.md, Track). Each group's rolling update is
kept too, rewritten when it changes, for a new leader to resume it, and each
volume a Replace is giving up until it is given up.

A store is a snapshot plus a log of deltas: :meth:`Store.apply` appends only
what changed (a new framework id, intents added or confirmed, intents
removed, deployments changed, releases begun or ended), so a write costs the size of its batch, not
of the framework. When the log outgrows the snapshot (and a floor), the next
write folds both into a new snapshot: the amortized cost of a write stays
that of its delta.

Two stores, one interface: :class:`FileStore`, a snapshot file replaced
atomically (write a temporary, fsync, rename, fsync the directory) and a log
file appended and fsynced, locked so a second process cannot use them;
:class:`ZooKeeperStore`, znodes of at most half a MiB (ZooKeeper refuses
about 1 MiB), each written in a transaction that checks the leader's fencing
epoch, so a deposed leader's writes are refused.

Records are versioned: ``ARKSTORE``, a format version byte, a CRC32 of the
body, then the body, the protobuf ``ark.store.Record`` of
``proto/ark/store.proto``. Version 3, written now, is the snapshot and log;
version 2 was one whole record (loaded as a snapshot of generation 0);
version 1 was msgpack. Loading dispatches on the version, so a store written
by an older Ark still loads, and checks every byte: damage is
:class:`StoreCorrupt`, never a guessed state.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec

from ark import protobuf
from ark.election import Term
from ark.errors import ArkError, StoreCorrupt, StoreFenced, StoreUnwritable

__all__ = [
    "FORMAT_VERSION",
    "FileStore",
    "Intent",
    "Record",
    "Store",
    "StoreCorrupt",
    "StoreFenced",
    "StoreUnwritable",
    "ZooKeeperStore",
    "decode_record",
    "encode_record",
]

MAGIC = b"ARKSTORE"
FORMAT_VERSION = 3
_HEADER = struct.Struct(">8sBI")  # magic, version, crc32 of the body
_FRAME = struct.Struct(">I")  # a log file's frame: the length of the record that follows
# Bytes per log entry and per snapshot znode: ZooKeeper refuses a request of
# about 1 MiB (jute.maxbuffer), transaction and all.
_PIECE = 512 * 1024
# The log is folded into a new snapshot once it outgrows the snapshot and this.
_COMPACT_BYTES = 1024 * 1024
# ... or has this many entries (ZooKeeper lists and reads them all on load).
_COMPACT_ENTRIES = 1000


class Intent(msgspec.Struct, frozen=True, array_like=True):
    """A task launch, recorded before its ACCEPT; ``confirmed`` once Mesos reported it.

    ``request`` is the msgpack :class:`~ark.messages.TaskRequest` the task
    was placed from (None: launched by hand, or stored before requests were):
    a new leader's ``Track`` restores the task's group, strategy and volume
    from it. An intent given to :meth:`Store.apply` without one keeps the
    request already stored for its task (a confirmation need not repeat it).
    """

    task_id: str
    agent_id: str
    confirmed: bool = False
    request: bytes | None = None


class Record(msgspec.Struct, frozen=True):
    """Everything the store holds; ``deployments``: each group's rolling update
    as the msgpack :class:`~ark.messages.ResumeDeployment` it is resumed from;
    ``releases``: each volume being given up, by persistence id, as the
    msgpack :class:`~ark.messages.ResumeRelease`."""

    framework_id: str | None = None
    intents: dict[str, Intent] = {}
    deployments: dict[str, bytes] = {}
    releases: dict[str, bytes] = {}


class _RecordV1(msgspec.Struct, frozen=True, array_like=True):
    framework_id: str | None
    intents: list[Intent]


# --- the format -------------------------------------------------------------------


def _wrap(message: Any) -> bytes:
    body: bytes = message.SerializeToString(deterministic=True)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, zlib.crc32(body)) + body


def _unwrap(data: bytes) -> tuple[int, bytes]:
    """The version and body of a record whose header and checksum are sound."""
    if len(data) < _HEADER.size:
        raise StoreCorrupt(f"store truncated: {len(data)} bytes, not even a header")
    magic, version, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != MAGIC:
        raise StoreCorrupt("not an Ark store (bad magic)")
    if zlib.crc32(body) != crc:
        raise StoreCorrupt("store damaged or truncated (checksum mismatch)")
    if version > FORMAT_VERSION or version == 0:
        raise StoreCorrupt(f"store format version {version} is newer than this Ark knows")
    return version, body


def _parse(body: bytes) -> Any:
    try:
        message = protobuf.StoreRecord.FromString(body)
    except Exception as exc:  # protobuf's DecodeError, or upb's own
        raise StoreCorrupt(f"store body unreadable: {exc}") from None
    if not message.IsInitialized():
        raise StoreCorrupt("store body unreadable: an intent lacks its task or agent id")
    return message


def _entry(data: bytes) -> Any:
    """A log entry (or a ZooKeeper head): a version 3 record."""
    version, body = _unwrap(data)
    if version != 3:
        raise StoreCorrupt(f"a log entry of format version {version}")
    return _parse(body)


def _snapshot(
    framework_id: str | None,
    intents: Iterable[Intent],
    generation: int,
    deployments: Mapping[str, bytes],
    releases: Mapping[str, bytes],
) -> bytes:
    message = protobuf.StoreRecord(generation=generation)
    for group, resume in sorted(deployments.items()):
        message.deployments.add(group=group, resume=resume)
    for pid, resume in sorted(releases.items()):
        message.releases.add(persistence_id=pid, resume=resume)
    if framework_id is not None:
        message.framework_id = framework_id
    add = message.intents.add
    for intent in sorted(intents, key=lambda i: i.task_id):
        add(
            task_id=intent.task_id,
            agent_id=intent.agent_id,
            confirmed=intent.confirmed,
            request=intent.request,
        )
    return _wrap(message)


def _read_snapshot(data: bytes) -> tuple[Record, int]:
    """A whole record of any version, and its generation (0 before version 3)."""
    version, body = _unwrap(data)
    if version == 1:
        try:
            v1 = msgspec.msgpack.decode(body, type=_RecordV1)
        except msgspec.DecodeError as exc:
            raise StoreCorrupt(f"store body unreadable: {exc}") from None
        return Record(v1.framework_id, {i.task_id: i for i in v1.intents}), 0
    message = _parse(body)
    if message.removed or message.HasField("chunks"):
        raise StoreCorrupt("a log entry or head where a whole record belongs")
    intents = {i.task_id: _intent(i, None) for i in message.intents}
    framework_id = message.framework_id if message.HasField("framework_id") else None
    deployments = {d.group: d.resume for d in message.deployments}
    releases = {r.persistence_id: r.resume for r in message.releases if r.HasField("resume")}
    return Record(framework_id, intents, deployments, releases), message.generation


def _intent(i: Any, before: Intent | None) -> Intent:
    """A stored intent as read; without its own request, the one ``before`` had."""
    if i.HasField("request"):
        request: bytes | None = i.request
    else:
        request = before.request if before is not None else None
    return Intent(i.task_id, i.agent_id, i.confirmed, request)


def _kept(intent: Intent, before: Intent | None) -> Intent:
    """``intent`` as applied over ``before``: a request left out is kept."""
    if intent.request is None and before is not None and before.request is not None:
        return msgspec.structs.replace(intent, request=before.request)
    return intent


def encode_record(record: Record) -> bytes:
    """The bytes of ``record`` as a whole record (a snapshot) in the current format."""
    return _snapshot(
        record.framework_id, record.intents.values(), 0, record.deployments, record.releases
    )


def decode_record(data: bytes) -> Record:
    """Read a whole record of any known format version.

    Raises
    ------
    StoreCorrupt
        The bytes are not a whole record of a known version.
    """
    return _read_snapshot(data)[0]


def _deltas(
    framework_id: str | None,
    added: list[Intent],
    removed: list[str],
    deployments: Mapping[str, bytes],
    releases: Mapping[str, bytes | None],
) -> list[bytes]:
    """Log entries for one change, each under ``_PIECE`` bytes.

    A change too big for one entry takes several, written one after another:
    a crash between them leaves a prefix, which is safe in the only direction
    that matters (intents recorded for launches never sent get reconciled).
    """
    entries: list[bytes] = []
    message = protobuf.StoreRecord()
    if framework_id is not None:
        message.framework_id = framework_id
    size = 0
    for intent in added:
        if size > _PIECE - 1024:
            entries.append(_wrap(message))
            message, size = protobuf.StoreRecord(), 0
        message.intents.add(
            task_id=intent.task_id,
            agent_id=intent.agent_id,
            confirmed=intent.confirmed,
            request=intent.request,
        )
        size += len(intent.task_id.encode()) + len(intent.agent_id.encode()) + 10
        size += len(intent.request) + 4 if intent.request is not None else 0
    for task_id in removed:
        if size > _PIECE - 1024:
            entries.append(_wrap(message))
            message, size = protobuf.StoreRecord(), 0
        message.removed.append(task_id)
        size += len(task_id.encode()) + 4
    for group, resume in sorted(deployments.items()):
        if size > _PIECE - 1024:
            entries.append(_wrap(message))
            message, size = protobuf.StoreRecord(), 0
        message.deployments.add(group=group, resume=resume)
        size += len(group.encode()) + len(resume) + 8
    for pid, release in sorted(releases.items()):
        if size > _PIECE - 1024:
            entries.append(_wrap(message))
            message, size = protobuf.StoreRecord(), 0
        message.releases.add(persistence_id=pid, resume=release)
        size += len(pid.encode()) + (len(release) if release is not None else 0) + 8
    entries.append(_wrap(message))
    return entries


# --- what both stores share -------------------------------------------------------------


class Store(Protocol):
    """Load once at start; then write each change before the effect that needs it."""

    def load(self) -> Record:
        """The stored record (empty if none was ever saved)."""

    def apply(
        self,
        framework_id: str | None,
        added: Iterable[Intent],
        removed: Iterable[str],
        deployments: Mapping[str, bytes] | None = None,
        releases: Mapping[str, bytes | None] | None = None,
    ) -> None:
        """Durably record a change, before returning; only the change is written.

        ``framework_id``: the framework id now (``None``: unchanged);
        ``added``: intents new or replaced (confirmed); ``removed``: task ids
        whose intents are gone. A task id is in at most one of the two.
        ``deployments``: the groups' deployments that changed (the scheduler
        passes it only when one did; to a store whose ``apply`` does not take
        it, never: its rolling updates are not resumed after a failover).
        ``releases``: volumes a Replace began to give up (their msgpack
        ResumeRelease) or has given up (``None``), by persistence id; the same
        holds as for ``deployments``.
        """

    def save(self, record: Record) -> None:
        """Replace the whole stored record, durably, before returning."""


class _LogStore:
    """A snapshot and a log, folded on load and compacted on write.

    Keeps what is stored in memory (it is what a compaction writes); a
    subclass reads and writes the bytes.
    """

    def __init__(self) -> None:
        self._loaded = False
        self._framework_id: str | None = None
        self._intents: dict[str, Intent] = {}
        self._deployments: dict[str, bytes] = {}
        self._releases: dict[str, bytes] = {}
        self._generation = 0
        self._snapshot_bytes = 0
        self._log_bytes = 0
        self._log_entries = 0

    # Subclasses: read the snapshot (its record, generation and size) and the
    # log entries of its generation; append entries to the log; write a
    # snapshot of a new generation and start an empty log.
    def _read(self) -> tuple[Record, int, int, list[bytes]]:
        raise NotImplementedError

    def _append(self, entries: list[bytes]) -> None:
        raise NotImplementedError

    def _write_snapshot(self, data: bytes, generation: int) -> None:
        raise NotImplementedError

    def _can_append(self) -> bool:
        return True

    def load(self) -> Record:
        self._loaded = False
        record, generation, snapshot_bytes, entries = self._read()
        framework_id, intents = record.framework_id, record.intents
        deployments, releases = dict(record.deployments), dict(record.releases)
        for data in entries:
            entry = _entry(data)
            if entry.HasField("framework_id"):
                framework_id = entry.framework_id
            for d in entry.deployments:
                deployments[d.group] = d.resume
            for r in entry.releases:
                if r.HasField("resume"):
                    releases[r.persistence_id] = r.resume
                else:
                    releases.pop(r.persistence_id, None)
            for i in entry.intents:
                intents[i.task_id] = _intent(i, intents.get(i.task_id))
            for task_id in entry.removed:
                intents.pop(task_id, None)
        self._framework_id, self._intents, self._generation = framework_id, intents, generation
        self._deployments, self._releases = deployments, releases
        self._snapshot_bytes = snapshot_bytes
        self._log_bytes = sum(len(e) for e in entries)
        self._log_entries = len(entries)
        self._loaded = True
        return Record(framework_id, dict(intents), dict(deployments), dict(releases))

    def apply(
        self,
        framework_id: str | None,
        added: Iterable[Intent],
        removed: Iterable[str],
        deployments: Mapping[str, bytes] | None = None,
        releases: Mapping[str, bytes | None] | None = None,
    ) -> None:
        """Record a delta; raises :class:`StoreFenced` or :class:`StoreUnwritable`."""
        try:
            self._apply(framework_id, added, removed, deployments or {}, releases or {})
        except ArkError:
            raise
        except Exception as exc:  # OSError from a disk, kazoo's errors from ZooKeeper
            raise StoreUnwritable(f"{self._where()} cannot be written: {_why(exc)}") from exc

    def _where(self) -> str:
        raise NotImplementedError

    def _apply(
        self,
        framework_id: str | None,
        added: Iterable[Intent],
        removed: Iterable[str],
        deployments: Mapping[str, bytes],
        releases: Mapping[str, bytes | None],
    ) -> None:
        if not self._loaded:
            self.load()
        added, removed = list(added), list(removed)
        if framework_id == self._framework_id:
            framework_id = None
        if not (framework_id is not None or added or removed or deployments or releases):
            return
        entries = _deltas(framework_id, added, removed, deployments, releases)
        size = sum(len(e) for e in entries)
        # Until the write succeeds, what is in memory is not what is stored.
        self._loaded = False
        if framework_id is not None:
            self._framework_id = framework_id
        for task_id in removed:
            self._intents.pop(task_id, None)
        for intent in added:
            self._intents[intent.task_id] = _kept(intent, self._intents.get(intent.task_id))
        self._deployments.update(deployments)
        for pid, release in releases.items():
            if release is None:
                self._releases.pop(pid, None)
            else:
                self._releases[pid] = release
        compact = (
            not self._can_append()
            or self._log_entries + len(entries) > _COMPACT_ENTRIES
            or self._log_bytes + size > max(_COMPACT_BYTES, self._snapshot_bytes)
        )
        if compact:
            self._compact()
        else:
            self._append(entries)
            self._log_bytes += size
            self._log_entries += len(entries)
        self._loaded = True

    def save(self, record: Record) -> None:
        self._loaded = False
        self._framework_id, self._intents = record.framework_id, dict(record.intents)
        self._deployments = dict(record.deployments)
        self._releases = dict(record.releases)
        try:
            self._compact()
        except ArkError:
            raise
        except Exception as exc:
            raise StoreUnwritable(f"{self._where()} cannot be written: {_why(exc)}") from exc
        self._loaded = True

    def _compact(self) -> None:
        generation = self._generation + 1
        data = _snapshot(
            self._framework_id,
            self._intents.values(),
            generation,
            self._deployments,
            self._releases,
        )
        self._write_snapshot(data, generation)
        self._generation = generation
        self._snapshot_bytes = len(data)
        self._log_bytes = self._log_entries = 0


# --- in a file ---------------------------------------------------------------------------


class FileStore(_LogStore):
    """The embedded default: a snapshot file and a log file, locked by their process.

    The log (``<path>.log``) is a run of frames, each a length and a record;
    the first names the snapshot generation it extends, so a log left from
    before a compaction is recognized and ignored. A frame cut short at the
    end is a write that never returned (its effect never went out): ignored,
    and overwritten by the next append; a whole frame that fails its
    checksum is corruption.

    Parameters
    ----------
    path
        The store's snapshot file; its directory must exist. A lock file
        beside it (``<path>.lock``) is held while the store is open.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self.log_path = Path(f"{self.path}.log")
        self._lock = open(f"{self.path}.lock", "a+b")  # noqa: SIM115 (held for the store's life)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StoreFenced(f"{self.path} is in use by another process") from None
        # The end of the log's last whole frame; None: no log of this generation.
        self._log_end: int | None = None

    def _where(self) -> str:
        return f"the store {self.path}"

    def _read(self) -> tuple[Record, int, int, list[bytes]]:
        self._log_end = None
        try:
            snapshot = self.path.read_bytes()
        except FileNotFoundError:
            snapshot = b""  # no compaction yet: generation 0, and maybe a log
        record, generation = _read_snapshot(snapshot) if snapshot else (Record(), 0)
        try:
            log = self.log_path.read_bytes()
        except FileNotFoundError:
            return record, generation, len(snapshot), []
        frames, end = _frames(log)
        if not frames or _entry(frames[0]).generation != generation:
            # Left from before the last compaction (or torn in its first write).
            return record, generation, len(snapshot), []
        self._log_end = end
        return record, generation, len(snapshot), frames[1:]

    def _append(self, entries: list[bytes]) -> None:
        frames = b"".join(_FRAME.pack(len(e)) + e for e in entries)
        if self._log_end is None:
            marker = _wrap(protobuf.StoreRecord(generation=self._generation))
            data = _FRAME.pack(len(marker)) + marker + frames
            _replace(self.log_path, data)
            self._log_end = len(data)
            return
        with open(self.log_path, "r+b") as f:
            f.seek(self._log_end)
            f.write(frames)
            f.truncate()  # whatever a torn write left beyond
            f.flush()
            os.fsync(f.fileno())
        self._log_end += len(frames)

    def _write_snapshot(self, data: bytes, generation: int) -> None:
        _replace(self.path, data)
        # The old log is of the old generation now: ignored if this unlink is lost.
        self.log_path.unlink(missing_ok=True)
        self._log_end = None

    def close(self) -> None:
        """Release the lock."""
        self._lock.close()

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _frames(log: bytes) -> tuple[list[bytes], int]:
    """The whole frames of a log file and where the last ends."""
    frames: list[bytes] = []
    at = 0
    while at + _FRAME.size <= len(log):
        (length,) = _FRAME.unpack_from(log, at)
        end = at + _FRAME.size + length
        if end > len(log):
            break
        frames.append(log[at + _FRAME.size : end])
        at = end
    return frames, at


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` atomically and durably."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename is durable only once the directory entry is.
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- in ZooKeeper ----------------------------------------------------------------------


class ZooKeeperStore(_LogStore):
    """The HA store: znodes under one path, written only while ``term`` is current.

    ``path`` holds the head (the snapshot's generation and its number of
    chunks); its children are the snapshot's chunks ``s-<generation>-<i>``
    and the log's entries ``l-<generation>-<i>``, numbered from 0 without a
    gap. A store of format 1 or 2 (the whole record in ``path``) loads as
    generation 0 and is compacted into this shape by the first write.

    Parameters
    ----------
    client
        A started ``kazoo`` client (the election's session or another).
    path
        The store's znode.
    term
        The leadership term (from :class:`~ark.election.LeaderElection`)
        whose epoch version every write checks.
    """

    def __init__(self, client: Any, path: str, term: Term) -> None:
        super().__init__()
        self._zk = client
        self._path = path.rstrip("/")
        self._term = term
        self._headed = False  # path holds a format 3 head
        self._chunks = 0

    def _where(self) -> str:
        return f"the store {self._path} in ZooKeeper"

    def _read(self) -> tuple[Record, int, int, list[bytes]]:
        self._headed = False
        if not self._zk.exists(self._path):
            return Record(), 0, 0, []
        data, _ = self._zk.get(self._path)
        if not data:
            # Created by a first compaction that died before its head: never written.
            return Record(), 0, 0, []
        version, _ = _unwrap(data)
        if version < 3:
            record, generation = _read_snapshot(data)
            return record, generation, len(data), []
        head = _entry(data)
        if not head.HasField("chunks"):
            raise StoreCorrupt(f"{self._path} holds no head")
        generation, chunks = head.generation, head.chunks
        children = set(self._zk.get_children(self._path))
        names = [f"s-{generation}-{i}" for i in range(chunks)]
        missing = [n for n in names if n not in children]
        if missing:
            raise StoreCorrupt(f"snapshot chunks missing: {missing[:3]}")
        log = sorted(int(n.split("-")[2]) for n in children if _of(n, "l", generation))
        if log != list(range(len(log))):
            raise StoreCorrupt(f"the log of generation {generation} has a gap: {log[:10]}")
        names += [f"l-{generation}-{i}" for i in log]
        # All at once: one round trip's latency, not one per znode.
        pending = [self._zk.get_async(f"{self._path}/{n}") for n in names]
        try:
            blobs = [p.get()[0] for p in pending]
        except Exception as exc:  # a znode deleted under us: NoNodeError
            raise StoreCorrupt(f"a znode of the store vanished while loading: {exc!r}") from None
        self._headed, self._chunks = True, chunks
        snapshot = b"".join(blobs[:chunks])
        record, stored = _read_snapshot(snapshot)
        if stored != generation:
            raise StoreCorrupt(f"the head names generation {generation}, its snapshot {stored}")
        return record, generation, len(snapshot), blobs[chunks:]

    def _can_append(self) -> bool:
        return self._headed

    def _append(self, entries: list[bytes]) -> None:
        for index, entry in enumerate(entries, self._log_entries):
            tx = self._zk.transaction()
            tx.check(self._term.epoch_path, self._term.version)
            tx.create(f"{self._path}/l-{self._generation}-{index}", entry)
            self._commit(tx)

    def _write_snapshot(self, data: bytes, generation: int) -> None:
        exists = self._zk.exists(self._path) is not None
        if exists:
            # Leftovers of a compaction a dead leader never finished.
            current = self._generation if self._headed else None
            stale = [
                f"{self._path}/{n}"
                for n in self._zk.get_children(self._path)
                if not (_of(n, "s", current) or _of(n, "l", current))
            ]
            self._each(stale, lambda tx, p: tx.delete(p))
        pieces = [data[i : i + _PIECE] for i in range(0, len(data), _PIECE)] or [b""]
        head = _wrap(protobuf.StoreRecord(generation=generation, chunks=len(pieces)))
        if not exists:
            self._zk.ensure_path(self._path.rsplit("/", 1)[0] or "/")
        if len(pieces) > 1:
            if not exists:
                # Created meanwhile by someone else: the transactions' checks decide.
                with contextlib.suppress(Exception):
                    self._zk.create(self._path, b"", makepath=True)
                exists = True
            for i, piece in enumerate(pieces[:-1]):
                tx = self._zk.transaction()
                tx.check(self._term.epoch_path, self._term.version)
                tx.create(f"{self._path}/s-{generation}-{i}", piece)
                self._commit(tx)
        # The last chunk and the head that makes the new generation current, at once
        # (a small store's first write is this one round trip).
        tx = self._zk.transaction()
        tx.check(self._term.epoch_path, self._term.version)
        if exists:
            tx.set_data(self._path, head)
        else:
            tx.create(self._path, head)
        tx.create(f"{self._path}/s-{generation}-{len(pieces) - 1}", pieces[-1])
        self._commit(tx)
        # The old generation is unreachable now; what this misses, the next compaction takes.
        if self._headed:
            old_names = [f"s-{self._generation}-{i}" for i in range(self._chunks)]
            old_names += [f"l-{self._generation}-{i}" for i in range(self._log_entries)]
            self._each([f"{self._path}/{n}" for n in old_names], lambda tx, p: tx.delete(p))
        self._headed, self._chunks = True, len(pieces)

    def _each(self, paths: list[str], op: Any) -> None:
        """Fenced operations on many znodes, a few hundred per transaction."""
        for at in range(0, len(paths), 200):
            tx = self._zk.transaction()
            tx.check(self._term.epoch_path, self._term.version)
            for path in paths[at : at + 200]:
                op(tx, path)
            self._commit(tx)

    def _commit(self, tx: Any) -> None:
        results = tx.commit()
        if results and isinstance(results[0], Exception):
            raise StoreFenced(
                f"write refused: epoch {self._term.epoch} is no longer current ({results[0]!r})"
            )
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise StoreUnwritable(f"{self._where()} cannot be written: {failed[0]!r}")


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})"
    return repr(exc)


def _of(name: str, kind: str, generation: int | None) -> bool:
    """Whether a child of the store is a chunk (``s``) or entry (``l``) of ``generation``."""
    parts = name.split("-")
    return len(parts) == 3 and parts[0] == kind and parts[1] == str(generation)
