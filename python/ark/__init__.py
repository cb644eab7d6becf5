"""Ark: write Apache Mesos frameworks as pure functions over immutable state.

This module is the map of the public API.
"""

from ark import effects, messages
from ark._core import Inbox
from ark.core import Reducer, Snapshot
from ark.errors import ArkError, CommandRejected, HookError, InboxClosed, MessageError
from ark.messages import Custom
from ark.scheduler import Driver, NoReply, Scheduler
from ark.state import Config, StateView
from ark.state_manager import Reply, StateManager, Step
from ark.streams import reconcile_stream

__all__ = [
    "ArkError",
    "CommandRejected",
    "Config",
    "Custom",
    "Driver",
    "HookError",
    "Inbox",
    "InboxClosed",
    "MessageError",
    "NoReply",
    "Reducer",
    "Reply",
    "Scheduler",
    "Snapshot",
    "StateManager",
    "StateView",
    "Step",
    "effects",
    "messages",
    "reconcile_stream",
]

__version__ = "0.1.0"
