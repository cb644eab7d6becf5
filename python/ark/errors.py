"""Ark's exceptions, all of them: one base, a few precise kinds, never a bare ``Exception``.

Each is also importable from the module that raises it (``ark.store.StoreFenced``...).
"""

from __future__ import annotations

__all__ = [
    "ArkError",
    "CommandRejected",
    "DetectorError",
    "ElectionError",
    "HookError",
    "InboxClosed",
    "InternalError",
    "MessageError",
    "MissingExtra",
    "NoReply",
    "RecordIOError",
    "RecordingError",
    "StoreCorrupt",
    "StoreFenced",
    "StoreUnwritable",
    "WireError",
]


class ArkError(Exception):
    """Base of every error Ark raises."""


class MessageError(ArkError, ValueError):
    """Bytes that are not a well-formed known message; the state is unchanged."""


class WireError(MessageError):
    """A Mesos event or a launch payload that does not have the v1 shape."""


class RecordIOError(ArkError, ValueError):
    """A byte stream that is not RecordIO (a ``ValueError`` too, as it always was)."""


class CommandRejected(ArkError):
    """A well-formed command that cannot apply (unknown offer, duplicate task...)."""


class InboxClosed(ArkError):
    """A push to, or a drain of, an inbox that was closed and is empty."""


class InternalError(ArkError):
    """A bug in Ark's Rust core (a panic), caught where Python called it.

    The call failed; the loop logs it and goes on. A write that panicked may
    have left part of its message applied. Please report the message.
    """


class RecordingError(ArkError):
    """A recording that cannot be written or read (not a recording, unknown version...)."""


class HookError(ArkError):
    """A user hook raised or returned something that is not ``(state, commands)``.

    The loop logs it and goes on with the state from before the hook.
    """


class NoReply(ArkError):
    """The hook handled an asked message without returning a :class:`~ark.Reply`."""


class DetectorError(ArkError, ValueError):
    """A master address that cannot be parsed, or ZooKeeper content that is not a master."""


class ElectionError(ArkError):
    """ZooKeeper could not be reached or refused the election's znodes."""


class StoreCorrupt(ArkError):
    """A store that cannot be read: truncated, damaged, or of an unknown format.

    A scheduler refuses to start on it rather than act on a guessed state.
    """


class StoreUnwritable(ArkError):
    """A write that failed: a full or read-only disk, ZooKeeper out of reach.

    What it was to record is not recorded, so the calls that depend on it
    must not go out: the scheduler stops calling Mesos. What was stored
    before still loads.
    """


class StoreFenced(ArkError):
    """A write refused because another process leads now (or holds the file)."""


class MissingExtra(ArkError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""
