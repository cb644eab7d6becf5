"""The flight recorder: every message the loop steps, on disk, to replay later.

``Scheduler(..., recorder=Recorder(path))`` records, in order, each message the
core steps (from the inbox or from a hook's commands) with the ``now`` it was
stepped at and the effects it gave, and a note for each hook that ran (the
event it saw, the commands and replies it returned). Timer firings are the
``ReconcileTimeout`` and ``Tick`` messages they become. :mod:`ark.replay`
steps them again.

The core appends entries to a tape in Rust; the loop takes the tape after
each batch and queues it, and a writer thread puts it on disk: the loop never
waits for a write.

On disk a recording is a directory of segments, ``segment-00000000.rec``,
``segment-00000001.rec``...; each starts with :data:`MAGIC` and the format
version (u32 LE), then records: ``length: u32 LE, crc32: u32 LE, payload``.
The first record of a segment is its :class:`SegmentMeta` (msgpack); every
other one holds whole tape entries (``source: u8, now: f64 LE, len: u32 LE,
message, len: u32 LE, effects``; see ``rust/src/recorder.rs``). A segment is
closed past ``segment_bytes`` and the oldest are deleted while the whole
recording is over ``max_bytes``. A record cut short by a crash fails its
length or checksum: reading stops there, it is never misread.
"""

from __future__ import annotations

import logging
import os
import queue
import struct
import threading
import time
import zlib
from enum import IntEnum
from pathlib import Path
from typing import Any

import msgspec

from ark.errors import RecordingError

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "Entry",
    "HookNote",
    "Recorder",
    "Recording",
    "RecordingError",
    "SegmentMeta",
    "Source",
    "encode_note",
    "encode_reply",
    "read_recording",
]

log = logging.getLogger(__name__)

MAGIC = b"ARKREC\r\n"
#: Bumped when the layout changes; :func:`read_recording` keeps reading every older one.
FORMAT_VERSION = 1

_HEADER = struct.Struct("<8sI")
_RECORD = struct.Struct("<II")
_ENTRY_HEAD = struct.Struct("<BdI")
_LEN = struct.Struct("<I")
# A record longer than this is a torn or garbage length, not a record.
_MAX_RECORD = 1 << 30


class Source(IntEnum):
    """Where an entry came from."""

    INBOX = 0
    """A message taken from the inbox (events, timers, your pushes), stepped."""
    COMMAND = 1
    """A hook's command, stepped right after the hook."""
    NOTE = 2
    """A :class:`HookNote`: what a hook saw and returned; not stepped."""


class SegmentMeta(msgspec.Struct, frozen=True):
    """The first record of every segment."""

    segment: int
    started_at: float
    config: bytes
    """The core's ``Config`` (msgpack): a replay builds its core from it."""
    ark_version: str


class HookNote(msgspec.Struct, frozen=True, array_like=True):
    """A hook that ran: the event it saw and what it returned."""

    source: str
    """``"message"`` (the message stepped just before), ``"custom"`` or ``"unreconciled"``."""
    event: bytes
    """``ark.messages.encode`` of the event (offers as the hook saw them), or
    the msgpack list of task ids for ``unreconciled``."""
    commands: list[bytes]
    """``ark.messages.encode`` of each command, in order (custom ones included)."""
    replies: list[bytes]
    """msgpack of each ``Reply`` value (its ``repr`` when it does not encode)."""
    error: str | None
    asked: bool


class Entry(msgspec.Struct, frozen=True):
    """One recorded entry."""

    index: int
    source: Source
    now: float
    message: bytes
    """The message's msgpack, or the :class:`HookNote`'s for a note."""
    effects: bytes
    """The msgpack list of the effects it gave (empty for a note)."""

    def note(self) -> HookNote:
        """The hook note this entry holds."""
        if self.source is not Source.NOTE:
            raise RecordingError(f"entry {self.index} is a step, not a note")
        return _note_decoder.decode(self.message)


_note_encoder = msgspec.msgpack.Encoder()
_note_decoder = msgspec.msgpack.Decoder(HookNote)
_meta_decoder = msgspec.msgpack.Decoder(SegmentMeta)


def encode_note(note: HookNote) -> bytes:
    """The bytes of a note, as the scheduler hands them to the core's tape."""
    return _note_encoder.encode(note)


def encode_reply(value: Any) -> bytes:
    """A reply's value in msgpack, or its ``repr`` when msgpack cannot hold it."""
    try:
        return _note_encoder.encode(value)
    except (TypeError, ValueError, OverflowError):
        return _note_encoder.encode(repr(value))


def _segment_name(index: int) -> str:
    return f"segment-{index:08d}.rec"


def _segments(path: Path) -> list[tuple[int, Path]]:
    found = []
    for p in path.glob("segment-*.rec"):
        try:
            found.append((int(p.stem.removeprefix("segment-")), p))
        except ValueError:
            continue
    return sorted(found)


class Recorder:
    """Writes a recording to the directory ``path`` (created; it must hold none yet).

    Parameters
    ----------
    path
        The recording's directory.
    segment_bytes
        Close a segment and start the next once it is this large.
    max_bytes
        Delete the oldest segments while the recording is larger (the one being
        written is never deleted). A replay then starts at the oldest kept one.
    fsync
        Also ``fsync`` each batch: survives a power loss, not only a crash of
        the process, at the cost of a disk flush per batch.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        segment_bytes: int = 64 << 20,
        max_bytes: int = 1 << 30,
        fsync: bool = False,
    ) -> None:
        if segment_bytes <= 0 or max_bytes < segment_bytes:
            raise ValueError("need 0 < segment_bytes <= max_bytes")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        if _segments(self.path):
            raise RecordingError(f"{self.path} already holds a recording")
        self._segment_bytes = segment_bytes
        self._max_bytes = max_bytes
        self._fsync = fsync
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._config = b""
        self._fd = -1
        self._segment = -1
        self._size = 0
        self._sizes: dict[int, int] = {}
        self.written = 0
        """Payload bytes written so far (entries, not headers)."""
        self.failed: BaseException | None = None
        """The error that stopped the writer, if one did (recording then stops)."""

    def start(self, config: bytes) -> None:
        """Open the first segment and start the writer thread; ``config`` is the core's."""
        if self._thread is not None:
            raise RecordingError("the recorder was already started")
        self._config = config
        self._open_segment()
        self._thread = threading.Thread(target=self._write_loop, name="ark-recorder", daemon=True)
        self._thread.start()

    def write(self, tape: bytes) -> None:
        """Queue entries from the core's tape; never blocks (dropped once the writer failed)."""
        if tape and self.failed is None:
            self._queue.put(tape)

    def close(self) -> None:
        """Write what is queued, then close the segment."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def _write_loop(self) -> None:
        try:
            while True:
                tape = self._queue.get()
                if tape is None:
                    break
                # Whatever else is queued goes in the same record: one write.
                chunks = [tape]
                done = False
                while True:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        done = True
                        break
                    chunks.append(more)
                self._write_record(b"".join(chunks))
                self.written += sum(map(len, chunks))
                if self._size >= self._segment_bytes:
                    self._open_segment()
                else:
                    self._bound()
                if done:
                    break
        except OSError as exc:
            self.failed = exc
            log.exception("ark: the flight recorder stopped writing to %s", self.path)
        finally:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def _write_record(self, payload: bytes) -> None:
        record = _RECORD.pack(len(payload), zlib.crc32(payload)) + payload
        os.write(self._fd, record)
        if self._fsync:
            os.fsync(self._fd)
        self._size += len(record)
        self._sizes[self._segment] = self._size

    def _open_segment(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._segment += 1
        name = self.path / _segment_name(self._segment)
        self._fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._size = 0
        os.write(self._fd, _HEADER.pack(MAGIC, FORMAT_VERSION))
        self._size = _HEADER.size
        from ark import __version__  # here: ark imports the scheduler, which imports this

        meta = SegmentMeta(self._segment, time.time(), self._config, __version__)
        self._write_record(_note_encoder.encode(meta))
        self._bound()

    def _bound(self) -> None:
        while sum(self._sizes.values()) > self._max_bytes and len(self._sizes) > 1:
            oldest = min(self._sizes)
            del self._sizes[oldest]
            (self.path / _segment_name(oldest)).unlink(missing_ok=True)


class Recording(msgspec.Struct, frozen=True):
    """A recording read back: its entries in order, and how its reading ended."""

    path: str
    version: int
    config: bytes
    first_segment: int
    """0 unless the disk bound deleted older segments (then the state before is unknown)."""
    entries: list[Entry]
    torn: bool
    """The last record was cut short (a crash mid-write) and was left out."""

    @property
    def complete(self) -> bool:
        """It starts at the first message the core stepped."""
        return self.first_segment == 0


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read every whole record of the recording in the directory ``path``.

    Raises
    ------
    RecordingError
        No segment there, a segment that is not a recording, an unknown
        version, or a gap between segments.
    """
    root = Path(path)
    segments = _segments(root)
    if not segments:
        raise RecordingError(f"{root} holds no recording (no segment-*.rec)")
    entries: list[Entry] = []
    config = b""
    version = FORMAT_VERSION
    torn = False
    first = segments[0][0]
    for expected, (index, segment) in enumerate(segments, start=first):
        if index != expected:
            raise RecordingError(f"{root}: segment {expected} is missing before {index}")
        if torn:
            raise RecordingError(f"{root}: segment {index - 1} is torn but {index} follows it")
        data = segment.read_bytes()
        version, records, torn = _read_segment(segment, data)
        if not records:
            # Only a torn header: a crash while opening the segment.
            torn = True
            continue
        meta = _meta_decoder.decode(records[0])
        if meta.segment != index:
            raise RecordingError(f"{segment} says it is segment {meta.segment}")
        config = meta.config
        for payload in records[1:]:
            _parse_entries(payload, entries)
    return Recording(str(root), version, config, first, entries, torn)


def _read_segment(segment: Path, data: bytes) -> tuple[int, list[bytes], bool]:
    if len(data) < _HEADER.size:
        return FORMAT_VERSION, [], True
    magic, version = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise RecordingError(f"{segment} is not an Ark recording")
    if version > FORMAT_VERSION:
        raise RecordingError(
            f"{segment} has format {version}; this Ark reads up to {FORMAT_VERSION}"
        )
    records: list[bytes] = []
    offset = _HEADER.size
    while offset < len(data):
        if offset + _RECORD.size > len(data):
            return version, records, True
        length, crc = _RECORD.unpack_from(data, offset)
        start = offset + _RECORD.size
        payload = data[start : start + length]
        if length > _MAX_RECORD or len(payload) < length or zlib.crc32(payload) != crc:
            return version, records, True
        records.append(payload)
        offset = start + length
    return version, records, False


def _parse_entries(payload: bytes, into: list[Entry]) -> None:
    offset = 0
    end = len(payload)
    view = memoryview(payload)
    try:
        while offset < end:
            source, now, length = _ENTRY_HEAD.unpack_from(payload, offset)
            offset += _ENTRY_HEAD.size
            message = bytes(view[offset : offset + length])
            offset += length
            (length,) = _LEN.unpack_from(payload, offset)
            offset += _LEN.size
            effects = bytes(view[offset : offset + length])
            offset += length
            into.append(Entry(len(into), Source(source), now, message, effects))
    except (struct.error, ValueError) as exc:
        # The checksum held, so this is a writer's bug, not a torn write.
        raise RecordingError(f"a record holds a malformed entry: {exc}") from exc
    if offset != end:
        raise RecordingError("a record's entries overrun it")
