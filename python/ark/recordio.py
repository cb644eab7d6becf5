"""RecordIO framing of the scheduler event stream.

Each record is its length in bytes as ASCII decimal, a newline, then the
record itself (Mesos's ``recordio.hpp``). Clients must not assume that a
record fills one HTTP chunk.
"""

from __future__ import annotations

from collections.abc import Iterator

from ark.errors import RecordIOError

__all__ = ["RecordIODecoder", "RecordIOError", "frame"]

# A length prefix longer than this is garbage, not a record.
_MAX_PREFIX_DIGITS = 20


def frame(record: bytes) -> bytes:
    """Return ``record`` framed as one RecordIO record."""
    return b"%d\n%b" % (len(record), record)


class RecordIODecoder:
    """Incremental decoder: feed bytes, get whole records back."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data`` and return the records it completes, in order."""
        self._buffer += data
        return list(self._drain())

    def _drain(self) -> Iterator[bytes]:
        buf = self._buffer
        start = 0
        while True:
            newline = buf.find(b"\n", start, start + _MAX_PREFIX_DIGITS + 1)
            if newline < 0:
                if len(buf) - start > _MAX_PREFIX_DIGITS:
                    raise RecordIOError("record length prefix too long")
                break
            prefix = bytes(buf[start:newline])
            if not prefix.isdigit():
                raise RecordIOError(f"bad record length prefix {prefix!r}")
            end = newline + 1 + int(prefix)
            if end > len(buf):
                break
            yield bytes(buf[newline + 1 : end])
            start = end
        del buf[:start]
