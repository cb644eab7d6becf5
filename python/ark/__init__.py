"""Ark: write Apache Mesos frameworks as pure functions over immutable state.

This module is the map of the public API: everything a framework needs is
importable from ``ark``.

* Your framework: :class:`StateManager` (hooks returning a :data:`Step`: the
  new state and its :data:`Command` s), :class:`Reply`, :class:`Custom`, the
  message and command types in :mod:`ark.messages` (``from ark import messages
  as m``).
* Running it: :class:`Scheduler` over a driver, :class:`V1Driver` (the native
  v1 HTTP API) or :class:`PymesosDriver` (the ``pymesos`` extra), with
  :func:`task_payload` to describe what a task runs; :class:`Config` tunes the
  core.
* Reading its state: :class:`Snapshot` (``scheduler.snapshot()``),
  :class:`StateView`, :class:`TaskRecord`, :class:`Metrics`.
* Matching offers yourself: :func:`match_offers`, :class:`TaskRequest`,
  :class:`Constraint`, with a :class:`HealthCheck` and a :class:`KillPolicy`
  per task.
* Pods (tasks launched together as one LAUNCH_GROUP): :func:`pod`,
  :class:`PodTask`.
* High availability (the ``ha`` extra): :class:`Standby`, over a
  :class:`ZooKeeperStore`; :class:`FileStore` for one process that restarts.
* The flight recorder: :class:`Recorder` (``Scheduler(..., recorder=)``), read
  back and stepped again by :mod:`ark.replay`.
* Errors: :class:`ArkError` and its kinds, all in :mod:`ark.errors`.
"""

from ark import effects, messages
from ark._core import Inbox
from ark.core import Reducer, Snapshot
from ark.drivers import PymesosDriver, V1Driver
from ark.errors import (
    ArkError,
    CommandRejected,
    DetectorError,
    ElectionError,
    HookError,
    InboxClosed,
    InternalError,
    MessageError,
    MissingExtra,
    NoReply,
    RecordingError,
    RecordIOError,
    StoreCorrupt,
    StoreFenced,
    StoreUnwritable,
    WireError,
)
from ark.high_availability import Standby
from ark.matching import Constraint, Decisions, TaskRequest, match_offers
from ark.messages import Custom, HealthCheck, KillPolicy
from ark.metrics import Metrics
from ark.pods import PodTask, pod
from ark.recorder import Recorder
from ark.scheduler import Driver, Scheduler
from ark.state import Config, StateView, TaskRecord
from ark.state_manager import Command, Reply, StateManager, Step
from ark.store import FileStore, Store, ZooKeeperStore
from ark.streams import reconcile_stream
from ark.wire import task_payload

__all__ = [
    "ArkError",
    "Command",
    "CommandRejected",
    "Config",
    "Constraint",
    "Custom",
    "Decisions",
    "DetectorError",
    "Driver",
    "ElectionError",
    "FileStore",
    "HealthCheck",
    "HookError",
    "Inbox",
    "InboxClosed",
    "InternalError",
    "KillPolicy",
    "MessageError",
    "Metrics",
    "MissingExtra",
    "NoReply",
    "PodTask",
    "PymesosDriver",
    "RecordIOError",
    "Recorder",
    "RecordingError",
    "Reducer",
    "Reply",
    "Scheduler",
    "Snapshot",
    "Standby",
    "StateManager",
    "StateView",
    "Step",
    "Store",
    "StoreCorrupt",
    "StoreFenced",
    "StoreUnwritable",
    "TaskRecord",
    "TaskRequest",
    "V1Driver",
    "WireError",
    "ZooKeeperStore",
    "effects",
    "match_offers",
    "messages",
    "pod",
    "reconcile_stream",
    "task_payload",
]

__version__ = "0.1.0"
