"""The Rust reducer behind the same interface as :class:`ark.reference.Reducer`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import msgspec

from ark import _core
from ark.effects import Effect, decode_effects
from ark.errors import ArkError
from ark.messages import TERMINAL_STATES, Custom, Message, encode
from ark.state import Config, DeploymentRecord, StateView, TaskRecord

__all__ = ["Reducer", "Snapshot", "Table"]

#: The tables a snapshot converts to records.
Table: TypeAlias = Literal["tasks", "agents", "offers"]

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

    def settled(self, task_ids: list[str]) -> tuple[list[str], list[str]]:
        """Of ``task_ids``: those Mesos has reported, and those ended; one call for all."""
        return self._raw.settled(task_ids)

    def requests(self, task_ids: list[str]) -> list[bytes | None]:
        """For each of ``task_ids``, the msgpack :class:`~ark.messages.TaskRequest`
        its task was placed from (a stateful task's first request), or None
        (launched by hand, ended or unknown); one call for all."""
        return self._raw.requests(task_ids)

    def stored_deployments(self) -> list[tuple[str, bytes]]:
        """Each group's deployment, by group, as the msgpack
        :class:`~ark.messages.ResumeDeployment` a new leader takes it up from."""
        return self._raw.stored_deployments()

    def stored_releases(self) -> list[tuple[str, bytes]]:
        """Each volume a :class:`~ark.messages.Replace` is giving up, by
        persistence id, as the msgpack :class:`~ark.messages.ResumeRelease` a
        new leader takes it up from."""
        return self._raw.stored_releases()

    def view(self) -> StateView:
        """The whole state as plain values; O(number of tasks)."""
        return _view_decoder.decode(self._raw.view())

    def pending(self) -> dict[str, str | None]:
        """Task requests not yet placed, in arrival order, with why they did not fit.

        ``None`` for a request no matching cycle has considered yet; a
        request whose group's launch backoff is set reads ``launch backoff
        until <time>`` (the loop's clock, as ``time.time()``). O(state).
        """
        return {
            r.task_id: r.reason if r.delayed_until is None else _delayed(r.delayed_until)
            for r in self.view().demand
        }

    def unreachable(self) -> dict[str, str | None]:
        """Unreachable tasks with an unreachable strategy, sorted, and the id of
        each one's replacement (None until it is requested). O(state)."""
        return {r.task_id: r.replacement for r in self.view().unreachable}

    def deployments(self) -> dict[str, DeploymentRecord]:
        """Each group's rolling update, in progress or the last one ended, by group. O(state)."""
        return {d.group: d for d in self.view().deployments}

    def records(self, table: Table = "tasks") -> list[dict[str, Any]]:
        """One table of the state as a list of flat dicts, for pandas, Arrow or JSON.

        ``tasks``: one row per task (``uuid`` as hex); ``agents``: one per
        agent; ``offers``: one per outstanding offer, its scalar resources
        as columns (``cpus``, ``mem``...).
        """
        view = self.view()
        if table == "tasks":
            return [
                {
                    **{f: getattr(t, f) for f in t.__struct_fields__},
                    "uuid": t.uuid.hex() if t.uuid is not None else None,
                    "terminal": t.state in TERMINAL_STATES,
                }
                for t in view.tasks
            ]
        if table == "agents":
            return [{f: getattr(a, f) for f in a.__struct_fields__} for a in view.agents]
        if table == "offers":
            rows = []
            for o in view.offers:
                row: dict[str, Any] = {
                    "offer_id": o.offer_id,
                    "agent_id": o.agent_id,
                    "hostname": o.hostname,
                    "received_at": o.received_at,
                }
                for r in o.resources:
                    if r.scalar is not None:
                        row[r.name] = row.get(r.name, 0.0) + r.scalar
                rows.append(row)
            return rows
        raise ValueError(f"no table {table!r}: tasks, agents or offers")

    def to_pandas(self, table: Table = "tasks") -> Any:
        """:meth:`records` as a ``pandas.DataFrame`` (pandas is imported only here)."""
        import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

        rows = self.records(table)
        columns = _COLUMNS[table] if not rows else None
        return pd.DataFrame.from_records(rows, columns=columns)


_COLUMNS = {
    "tasks": [*TaskRecord.__struct_fields__, "terminal"],
    "agents": ["agent_id", "hostname", "active"],
    "offers": ["offer_id", "agent_id", "hostname", "received_at"],
}


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


def _delayed(until: float) -> str:
    return f"launch backoff until {until:.3f}"
