"""The Rust reducer behind the same interface as :class:`ark.reference.Reducer`."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ark import _core
from ark.effects import Effect, decode_effects
from ark.errors import ArkError
from ark.messages import Custom, Message, encode
from ark.state import Config, StateView, TaskRecord

__all__ = ["Reducer", "Snapshot"]

_view_decoder = msgspec.msgpack.Decoder(StateView)
_task_decoder = msgspec.msgpack.Decoder(TaskRecord)


class Snapshot:
    """An immutable state of the framework, cheap to take after every step.

    Counts and flags are read straight from Rust; records are converted only
    when asked for.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: _core.Snapshot) -> None:
        self._raw = raw

    @property
    def framework_id(self) -> str | None:
        return self._raw.framework_id

    @property
    def registered(self) -> bool:
        return self._raw.registered

    @property
    def suppressed(self) -> bool:
        return self._raw.suppressed

    @property
    def error(self) -> str | None:
        return self._raw.error

    @property
    def reconciliation_phase(self) -> str:
        """``"idle"`` or ``"explicit"``."""
        return self._raw.reconciliation_phase

    @property
    def reconciliation_round(self) -> int:
        return self._raw.reconciliation_round

    @property
    def reconciliation_pending(self) -> int:
        return self._raw.reconciliation_pending

    @property
    def task_count(self) -> int:
        return self._raw.task_count

    @property
    def offer_count(self) -> int:
        return self._raw.offer_count

    @property
    def agent_count(self) -> int:
        return self._raw.agent_count

    def task(self, task_id: str) -> TaskRecord | None:
        """The record of one task, or None if unknown."""
        data = self._raw.task(task_id)
        return None if data is None else _task_decoder.decode(data)

    def tasks_by_state(self) -> dict[str, list[str]]:
        """Task ids grouped by Mesos state, each list sorted."""
        return self._raw.tasks_by_state()

    def tasks_on_agent(self, agent_id: str) -> list[str]:
        """Sorted ids of the tasks last seen on an agent."""
        return self._raw.tasks_on_agent(agent_id)

    def view(self) -> StateView:
        """The whole state as plain values; O(number of tasks)."""
        return _view_decoder.decode(self._raw.view())


class Reducer:
    """The framework's bookkeeping, stepped by the Rust core.

    Parameters
    ----------
    config
        Reconciliation backoff and offer hold times; defaults if omitted.
    """

    __slots__ = ("_core",)

    def __init__(self, config: Config | None = None) -> None:
        self._core = _core.Core(msgspec.msgpack.encode(config or Config()))

    def step(self, message: Message | Custom, now: float) -> list[Effect]:
        """Apply one message at time ``now``; returns its effects.

        Raises
        ------
        MessageError, CommandRejected
            The message did not apply; the state is unchanged.
        """
        return decode_effects(self._core.step(encode(message), now=now))

    def step_bytes(self, data: bytes, now: float) -> list[Effect]:
        """Apply one message already encoded with :func:`ark.messages.encode`."""
        return decode_effects(self._core.step(data, now=now))

    def step_batch(
        self, messages: Sequence[bytes], now: float
    ) -> tuple[list[Effect], list[tuple[int, ArkError]]]:
        """Apply encoded messages in order, with the GIL released.

        Returns the effects of all of them and, for each message that failed
        (and changed nothing), its index and error.
        """
        effects, errors = self._core.step_batch(messages, now=now)
        return decode_effects(effects), errors

    def snapshot(self) -> Snapshot:
        """The state as it is now, in O(1)."""
        return Snapshot(self._core.snapshot())

    def view(self) -> StateView:
        """The whole state as plain values; O(number of tasks)."""
        return self.snapshot().view()
