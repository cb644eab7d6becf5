"""Ark: write Apache Mesos frameworks as pure functions over immutable state.

This module is the map of the public API.
"""

from ark import effects, messages
from ark._core import Inbox
from ark.core import Reducer, Snapshot
from ark.errors import ArkError, CommandRejected, InboxClosed, MessageError
from ark.messages import Custom
from ark.state import Config, StateView

__all__ = [
    "ArkError",
    "CommandRejected",
    "Config",
    "Custom",
    "Inbox",
    "InboxClosed",
    "MessageError",
    "Reducer",
    "Snapshot",
    "StateView",
    "effects",
    "messages",
]

__version__ = "0.1.0"
