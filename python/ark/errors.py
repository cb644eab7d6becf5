"""Ark's exceptions: one base, a few precise kinds, never a bare ``Exception``."""

from __future__ import annotations

__all__ = [
    "ArkError",
    "CommandRejected",
    "HookError",
    "InboxClosed",
    "InternalError",
    "MessageError",
]


class ArkError(Exception):
    """Base of every error Ark raises."""


class MessageError(ArkError, ValueError):
    """Bytes that are not a well-formed known message; the state is unchanged."""


class CommandRejected(ArkError):
    """A well-formed command that cannot apply (unknown offer, duplicate task...)."""


class InboxClosed(ArkError):
    """A push to, or a drain of, an inbox that was closed and is empty."""


class InternalError(ArkError):
    """A bug in Ark's Rust core (a panic), caught where Python called it.

    The call failed; the loop logs it and goes on. A write that panicked may
    have left part of its message applied. Please report the message.
    """


class HookError(ArkError):
    """A user hook raised or returned something that is not ``(state, commands)``.

    The loop logs it and goes on with the state from before the hook.
    """
