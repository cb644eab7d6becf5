"""The durable state a scheduler needs to survive its own death.

What is kept is little and written before the effect that depends on it:
the framework id (before any call uses it) and every task launch intended
(before its ACCEPT is sent), each marked confirmed once Mesos has reported
the task. A crash between the write and the call leaves an intent that the
next leader reconciles, never a task nobody knows of.

Two stores, one interface: :class:`FileStore`, a file replaced atomically
(write a temporary, fsync, rename, fsync the directory) and locked so a
second process cannot use it; :class:`ZooKeeperStore`, a znode written in a
transaction that checks the leader's fencing epoch, so a deposed leader's
writes are refused.

Records are versioned: ``ARKSTORE``, a format version byte, a CRC32 of the
body, then the body. Version 2, written now, is the protobuf ``ark.store.Record``
of ``proto/ark/store.proto``, which later versions extend by adding fields;
version 1 was msgpack. Loading dispatches on the version, so a store written
by an older Ark still loads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any, Protocol

import msgspec

from ark import protobuf
from ark.election import Term
from ark.errors import ArkError

__all__ = [
    "FORMAT_VERSION",
    "FileStore",
    "Intent",
    "Record",
    "Store",
    "StoreCorrupt",
    "StoreFenced",
    "ZooKeeperStore",
    "decode_record",
    "encode_record",
]

MAGIC = b"ARKSTORE"
FORMAT_VERSION = 2
_HEADER = struct.Struct(">8sBI")  # magic, version, crc32 of the body


class StoreCorrupt(ArkError):
    """A store that cannot be read: truncated, damaged, or of an unknown format.

    A scheduler refuses to start on it rather than act on a guessed state.
    """


class StoreFenced(ArkError):
    """A write refused because another process leads now (or holds the file)."""


class Intent(msgspec.Struct, frozen=True, array_like=True):
    """A task launch, recorded before its ACCEPT; ``confirmed`` once Mesos reported it."""

    task_id: str
    agent_id: str
    confirmed: bool = False


class Record(msgspec.Struct, frozen=True):
    """Everything the store holds."""

    framework_id: str | None = None
    intents: dict[str, Intent] = {}


class _RecordV1(msgspec.Struct, frozen=True, array_like=True):
    framework_id: str | None
    intents: list[Intent]


def encode_record(record: Record) -> bytes:
    """The bytes of ``record`` in the current format."""
    message = protobuf.StoreRecord()
    if record.framework_id is not None:
        message.framework_id = record.framework_id
    for intent in sorted(record.intents.values(), key=lambda i: i.task_id):
        message.intents.add(
            task_id=intent.task_id, agent_id=intent.agent_id, confirmed=intent.confirmed
        )
    body: bytes = message.SerializeToString(deterministic=True)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, zlib.crc32(body)) + body


def decode_record(data: bytes) -> Record:
    """Read a record of any known format version.

    Raises
    ------
    StoreCorrupt
        The bytes are not a whole record of a known version.
    """
    if len(data) < _HEADER.size:
        raise StoreCorrupt(f"store truncated: {len(data)} bytes, not even a header")
    magic, version, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != MAGIC:
        raise StoreCorrupt("not an Ark store (bad magic)")
    if zlib.crc32(body) != crc:
        raise StoreCorrupt("store damaged or truncated (checksum mismatch)")
    if version == 2:
        return _decode_v2(body)
    if version == 1:
        try:
            v1 = msgspec.msgpack.decode(body, type=_RecordV1)
        except msgspec.DecodeError as exc:
            raise StoreCorrupt(f"store body unreadable: {exc}") from None
        return Record(v1.framework_id, {i.task_id: i for i in v1.intents})
    raise StoreCorrupt(f"store format version {version} is newer than this Ark knows")


def _decode_v2(body: bytes) -> Record:
    try:
        message = protobuf.StoreRecord.FromString(body)
    except Exception as exc:  # protobuf's DecodeError, or upb's own
        raise StoreCorrupt(f"store body unreadable: {exc}") from None
    if not message.IsInitialized():
        raise StoreCorrupt("store body unreadable: an intent lacks its task or agent id")
    intents = {i.task_id: Intent(i.task_id, i.agent_id, i.confirmed) for i in message.intents}
    return Record(message.framework_id if message.HasField("framework_id") else None, intents)


class Store(Protocol):
    """Load once at start; save the whole record before each effect that needs it."""

    def load(self) -> Record:
        """The stored record (empty if none was ever saved)."""

    def save(self, record: Record) -> None:
        """Replace the stored record, durably, before returning."""


class FileStore:
    """The embedded default: one file, replaced atomically, locked by its process.

    Parameters
    ----------
    path
        The store's file; its directory must exist. A lock file beside it
        (``<path>.lock``) is held while the store is open.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = open(f"{self.path}.lock", "a+b")  # noqa: SIM115 (held for the store's life)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StoreFenced(f"{self.path} is in use by another process") from None

    def load(self) -> Record:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Record()
        return decode_record(data)

    def save(self, record: Record) -> None:
        data = encode_record(record)
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # The rename is durable only once the directory entry is.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        """Release the lock."""
        self._lock.close()

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZooKeeperStore:
    """The HA store: one znode, written only while ``term`` is current.

    Parameters
    ----------
    client
        A started ``kazoo`` client (the election's session or another).
    path
        The record's znode.
    term
        The leadership term (from :class:`~ark.election.LeaderElection`)
        whose epoch version every write checks.
    """

    def __init__(self, client: Any, path: str, term: Term) -> None:
        self._zk = client
        self._path = path
        self._term = term

    def load(self) -> Record:
        if not self._zk.exists(self._path):
            return Record()
        data, _ = self._zk.get(self._path)
        return decode_record(data)

    def save(self, record: Record) -> None:
        data = encode_record(record)
        if not self._zk.exists(self._path):
            # Created meanwhile by someone else: the transaction's check decides.
            with contextlib.suppress(Exception):
                self._zk.create(self._path, b"", makepath=True)
        tx = self._zk.transaction()
        tx.check(self._term.epoch_path, self._term.version)
        tx.set_data(self._path, data)
        results = tx.commit()
        if any(isinstance(r, Exception) for r in results):
            raise StoreFenced(
                f"write refused: epoch {self._term.epoch} is no longer current ({results[0]!r})"
            )
