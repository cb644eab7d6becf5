"""Replay a flight recording (:mod:`ark.recorder`): the same messages through a fresh core.

The core is a pure function of the messages it steps and the ``now`` it steps
them at, so stepping a recording's messages again gives the recorded run's
states and effects exactly; :meth:`Replay.verify` checks the effects byte for
byte. On top of that a replay can stop at a message or a moment
(:meth:`Replay.at`), follow one task (:meth:`Replay.task_history`), list
what the hooks returned (:meth:`Replay.hooks`), sum a run up
(:meth:`Replay.summary`), and re-run it with another ``StateManager``
(:func:`what_if`).

``python -m ark.replay RECORDING`` prints the summary; ``--task ID`` one
task's history, ``--at INDEX`` / ``--time T`` the state at that point,
``--hooks`` what the hooks returned; ``--json`` for JSON instead of text.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import msgspec

from ark import _core
from ark import effects as fx
from ark import messages as m
from ark.core import Snapshot
from ark.errors import ArkError, HookError
from ark.recorder import (
    Entry,
    HookNote,
    Recording,
    RecordingError,
    Source,
    encode_reply,
    read_recording,
)
from ark.state_manager import Command, Reply, StateManager, Unreconciled, apply_hook, hooked_types

__all__ = [
    "Difference",
    "Divergence",
    "HookCall",
    "Mismatch",
    "Moment",
    "Replay",
    "Stepped",
    "Summary",
    "TaskEvent",
    "WhatIf",
    "main",
    "what_if",
]

S = TypeVar("S")

_raw = msgspec.msgpack.Decoder()
_NO_EFFECTS = b"\x90"


class Stepped(msgspec.Struct, frozen=True):
    """One recorded message stepped again."""

    entry: Entry
    effects: bytes
    """The msgpack list of the effects the replay gave."""
    error: str | None
    """Why the message did not apply, if it did not (then nothing changed)."""


class Mismatch(msgspec.Struct, frozen=True):
    """A message whose replayed effects differ from the recorded ones."""

    index: int
    recorded: bytes
    replayed: bytes


class Moment(msgspec.Struct, frozen=True):
    """The replay stopped: the last entry stepped, its time, and the state then."""

    index: int
    """Index of the last entry stepped (-1: none)."""
    now: float | None
    snapshot: Snapshot


class TaskEvent(msgspec.Struct, frozen=True):
    """A message that touched a task, with the effects that did, and the task after it."""

    index: int
    now: float
    source: str
    message: Any
    """The message as plain values (``[tag, field, ...]``)."""
    effects: list[Any]
    """Those of its effects that name the task, as plain values."""
    state: str | None
    """The task's state after the message (None: not known yet)."""


class HookCall(msgspec.Struct, frozen=True):
    """A hook that ran in the recorded run."""

    index: int
    now: float
    source: str
    event: Any
    commands: list[Any]
    replies: list[Any]
    error: str | None


class Summary(msgspec.Struct, frozen=True):
    """A recording in figures."""

    path: str
    complete: bool
    torn: bool
    entries: int
    first: float | None
    last: float | None
    messages: dict[str, int]
    """Messages stepped, by type (from the inbox and from hooks)."""
    commands: int
    """Of them, commands from hooks."""
    hooks: int
    rejected: int
    tasks: dict[str, int]
    """Tasks by final state."""
    reconciliations: int
    """Reconciliations completed (the core's count)."""
    explicit_reconciles: int
    """RECONCILE calls naming tasks (one per round)."""
    subscriptions: int
    disconnections: int
    failovers: int
    """Subscriptions after the first: master failovers (or our own re-subscriptions)."""


def _tag(message: bytes) -> str:
    try:
        raw = _raw.decode(message)
    except msgspec.DecodeError:
        return "?"
    return str(raw[0]) if isinstance(raw, list) and raw else "?"


def _mentions(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return value == text
    if isinstance(value, (list, tuple)):
        return any(_mentions(v, text) for v in value)
    if isinstance(value, dict):
        return any(_mentions(v, text) for v in value.values())
    return False


class Replay:
    """A recording, ready to be stepped again through a fresh core.

    Parameters
    ----------
    recording
        A :class:`~ark.recorder.Recording` or the directory of one.
    partial
        Accept a recording whose first segments the disk bound deleted: it is
        stepped from an empty state, so states and effects may differ from the
        recorded run's until reconciliation has told the core every task again.

    Raises
    ------
    RecordingError
        Not a recording, or a partial one without ``partial``.
    """

    def __init__(self, recording: Recording | str | os.PathLike[str], *, partial: bool = False):
        if not isinstance(recording, Recording):
            recording = read_recording(recording)
        if not recording.complete and not partial:
            raise RecordingError(
                f"{recording.path} starts at segment {recording.first_segment} (older ones "
                "were rotated away): its states are not the recorded ones; pass partial=True"
            )
        self.recording = recording

    def core(self) -> _core.Core:
        """A fresh core with the recorded run's config."""
        return _core.Core(self.recording.config or None)

    def steps(self, core: _core.Core | None = None) -> Iterator[Stepped]:
        """Step every recorded message in order through ``core`` (a fresh one by default)."""
        core = core or self.core()
        for entry in self.recording.entries:
            if entry.source is Source.NOTE:
                continue
            try:
                effects = core.step(entry.message, now=entry.now)
                error = None
            except ArkError as exc:
                effects, error = _NO_EFFECTS, str(exc)
            yield Stepped(entry, effects, error)

    def verify(self) -> list[Mismatch]:
        """Every message whose replayed effects differ from the recorded ones: none, or a bug."""
        return [
            Mismatch(s.entry.index, s.entry.effects, s.effects)
            for s in self.steps()
            if s.effects != s.entry.effects
        ]

    def at(self, index: int | None = None, *, time: float | None = None) -> Moment:
        """The state after entry ``index``, or after the last message at or before ``time``.

        With neither, the state at the end of the recording.
        """
        core = self.core()
        last, now = -1, None
        for entry in self.recording.entries:
            if (index is not None and entry.index > index) or (
                time is not None and entry.now > time
            ):
                break
            if entry.source is not Source.NOTE:
                # A message that failed changed nothing in the recorded run either.
                with contextlib.suppress(ArkError):
                    core.step(entry.message, now=entry.now)
            last, now = entry.index, entry.now
        return Moment(last, now, Snapshot(core.snapshot()))

    def task_history(self, task_id: str) -> list[TaskEvent]:
        """Every message that named ``task_id`` or whose effects did, and the task's state after."""
        core = self.core()
        out = []
        needle = task_id.encode()
        for s in self.steps(core):
            entry = s.entry
            if needle not in entry.message and needle not in s.effects:
                continue
            message = _raw.decode(entry.message)
            effects = [e for e in _raw.decode(s.effects) if _mentions(e, task_id)]
            if not effects and not _mentions(message, task_id):
                continue
            record = core.snapshot().task(task_id)
            state = None if record is None else str(_raw.decode(record)[1])
            out.append(
                TaskEvent(
                    entry.index, entry.now, entry.source.name.lower(), message, effects, state
                )
            )
        return out

    def hooks(self) -> list[HookCall]:
        """Every hook that ran in the recorded run: the event, its commands and replies."""
        out = []
        for entry in self.recording.entries:
            if entry.source is not Source.NOTE:
                continue
            note = entry.note()
            out.append(
                HookCall(
                    entry.index,
                    entry.now,
                    note.source,
                    _raw.decode(note.event),
                    [_raw.decode(c) for c in note.commands],
                    [_raw.decode(r) for r in note.replies],
                    note.error,
                )
            )
        return out

    def summary(self) -> Summary:
        """Time span, messages by type, tasks by final state, reconciliations, failovers."""
        core = self.core()
        messages: Counter[str] = Counter()
        commands = rejected = explicit = hooks = 0
        first = last = None
        for entry in self.recording.entries:
            first = entry.now if first is None else first
            last = entry.now
            hooks += entry.source is Source.NOTE
        for s in self.steps(core):
            messages[_tag(s.entry.message)] += 1
            commands += s.entry.source is Source.COMMAND
            rejected += s.error is not None
            if b"Reconcile" in s.effects:
                explicit += sum(
                    isinstance(e, fx.Reconcile) and bool(e.tasks)
                    for e in fx.decode_effects(s.effects)
                )
        snapshot = Snapshot(core.snapshot())
        subscriptions = messages["Subscribed"] + messages["Reregistered"]
        return Summary(
            path=self.recording.path,
            complete=self.recording.complete,
            torn=self.recording.torn,
            entries=len(self.recording.entries),
            first=first,
            last=last,
            messages=dict(sorted(messages.items())),
            commands=commands,
            hooks=hooks,
            rejected=rejected,
            tasks={k: len(v) for k, v in snapshot.tasks_by_state().items()},
            reconciliations=snapshot.view().reconciliation.completed,
            explicit_reconciles=explicit,
            subscriptions=subscriptions,
            disconnections=messages["Disconnected"] + messages["Error"],
            failovers=max(0, subscriptions - 1),
        )


# --- what if ---------------------------------------------------------------------


class Difference(msgspec.Struct, frozen=True):
    """A hook call whose commands (or replies) differ from the recorded ones."""

    index: int
    now: float
    event: Any
    recorded: list[Any]
    replayed: list[Any]


class Divergence(msgspec.Struct, frozen=True):
    """After a message: the tasks whose records differ between the two runs."""

    index: int
    now: float
    tasks: list[str]


class WhatIf(msgspec.Struct, Generic[S], frozen=True):
    """A recording re-run with another ``StateManager``."""

    first_difference: Difference | None
    """The first hook call whose commands differ; None: the same run."""
    differences: list[Difference]
    divergence: list[Divergence]
    """After each message from the first difference on: the tasks that differ."""
    recorded: dict[str, list[str]]
    """Task ids by final state in the recorded run."""
    replayed: dict[str, list[str]]
    """Task ids by final state in the re-run."""
    state: Any
    """Your state after the re-run."""


def _outputs(commands: Sequence[Command]) -> list[bytes]:
    return [
        m.encode(c) if not isinstance(c, Reply) else _reply(encode_reply(c.value)) for c in commands
    ]


def _recorded_outputs(note: HookNote | None) -> list[bytes]:
    if note is None:
        return []
    return [*note.commands, *map(_reply, note.replies)]


def _reply(value: bytes) -> bytes:
    """A reply as a command, ``["Reply", value]``, its value encoded as the recorder does."""
    return msgspec.msgpack.encode(["Reply", msgspec.Raw(value)])


def _tasks_differ(a: _core.Core, b: _core.Core) -> list[str]:
    sa, sb = a.snapshot(), b.snapshot()
    if sa.view() == sb.view():
        return []
    ids = set()
    for state_ids in sa.tasks_by_state().values():
        ids.update(state_ids)
    for state_ids in sb.tasks_by_state().values():
        ids.update(state_ids)
    return sorted(i for i in ids if sa.task(i) != sb.task(i))


def what_if(
    recording: Recording | str | os.PathLike[str],
    manager: StateManager[S],
    state: S,
    *,
    partial: bool = False,
) -> WhatIf[S]:
    """Re-run a recording with ``manager`` (your fixed hooks) from your initial ``state``.

    The recorded messages from the inbox are stepped as they were; the
    hooks of ``manager`` run where the scheduler would have run them (after
    each message of a type it hooks, on each custom message and each
    recorded ``Unreconciled``), and their commands are stepped instead of the
    recorded ones. Custom messages a hook sends are not re-queued (the
    recorded ones arrive as they did), and timers fire as recorded.

    Returns every hook call whose commands or replies differ from the
    recorded ones, and, from the first on, which tasks differ after each
    message between the recorded run and this one.
    """
    replay = Replay(recording, partial=partial)
    entries = replay.recording.entries
    recorded, replayed = replay.core(), replay.core()
    hooked = hooked_types(manager)
    differences: list[Difference] = []
    divergence: list[Divergence] = []

    def step(core: _core.Core, data: bytes, now: float) -> bytes:
        try:
            return core.step(data, now=now)
        except ArkError:
            return _NO_EFFECTS

    def run_hook(
        index: int, now: float, event: m.Message | m.Custom | Unreconciled, note: HookNote | None
    ) -> None:
        nonlocal state
        try:
            state, commands = apply_hook(manager, state, event, Snapshot(replayed.snapshot()))
        except HookError:
            commands = []
        ours, theirs = _outputs(commands), _recorded_outputs(note)
        if ours != theirs:
            differences.append(
                Difference(
                    index,
                    now,
                    ["Unreconciled", event.task_ids]
                    if isinstance(event, Unreconciled)
                    else _raw.decode(m.encode(event)),
                    [_raw.decode(c) for c in theirs],
                    [_raw.decode(c) for c in ours],
                )
            )
        for command in commands:
            if not isinstance(command, (Reply, m.Custom)):
                step(replayed, m.encode(command), now)

    for i, entry in enumerate(entries):
        following = entries[i + 1] if i + 1 < len(entries) else None
        if entry.source is Source.COMMAND:
            step(recorded, entry.message, entry.now)
        elif entry.source is Source.INBOX:
            step(recorded, entry.message, entry.now)
            effects = step(replayed, entry.message, entry.now)
            note = None
            if following is not None and following.source is Source.NOTE:
                candidate = following.note()
                note = candidate if candidate.source == "message" else None
            try:
                event = m.decode(entry.message)
            except msgspec.DecodeError:
                event = None
            if isinstance(event, m.Offers):
                used = {
                    o
                    for e in fx.decode_effects(effects)
                    if isinstance(e, (fx.Accept, fx.Decline))
                    for o in e.offer_ids
                }
                kept = [o for o in event.offers if o.id not in used]
                event = m.Offers(kept) if kept else None
            if isinstance(event, m.Custom) or (event is not None and type(event) in hooked):
                run_hook(entry.index, entry.now, event, note)
            elif note is not None:
                skipped = Difference(
                    entry.index,
                    entry.now,
                    _raw.decode(note.event),
                    [_raw.decode(c) for c in _recorded_outputs(note)],
                    [],
                )
                if skipped.recorded:
                    differences.append(skipped)
        else:
            note = entry.note()
            if note.source == "custom":
                run_hook(entry.index, entry.now, m.decode(note.event), note)
            elif note.source == "unreconciled":
                ids = msgspec.msgpack.decode(note.event, type=list[str])
                run_hook(entry.index, entry.now, Unreconciled(ids), note)
        if differences and entry.source is not Source.NOTE:
            divergence.append(Divergence(entry.index, entry.now, _tasks_differ(recorded, replayed)))
    return WhatIf(
        differences[0] if differences else None,
        differences,
        divergence,
        recorded.snapshot().tasks_by_state(),
        replayed.snapshot().tasks_by_state(),
        state,
    )


# --- command line ----------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, msgspec.Struct):
        return _plain(msgspec.to_builtins(value))
    return value


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _text_summary(s: Summary) -> str:
    lines = [
        f"recording {s.path}"
        + ("" if s.complete else " (partial)")
        + (" (torn tail)" if s.torn else ""),
        f"  {s.entries} entries from {_when(s.first)} to {_when(s.last)}"
        + (f" ({s.last - s.first:.3f} s)" if s.first is not None and s.last is not None else ""),
        f"  messages: {sum(s.messages.values())} ({s.commands} from hooks, "
        f"{s.rejected} rejected), hooks run: {s.hooks}",
    ]
    lines += [f"    {tag:<16} {n}" for tag, n in s.messages.items()]
    lines.append(f"  tasks by final state: {sum(s.tasks.values())}")
    lines += [f"    {state:<16} {n}" for state, n in s.tasks.items()]
    lines.append(
        f"  reconciliations completed: {s.reconciliations}, "
        f"explicit rounds: {s.explicit_reconciles}"
    )
    lines.append(
        f"  subscriptions: {s.subscriptions}, failovers: {s.failovers}, "
        f"disconnections: {s.disconnections}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ark.replay``: a recording's summary, a task's history, a moment's state."""
    parser = argparse.ArgumentParser(
        prog="python -m ark.replay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("recording", help="the recording's directory")
    parser.add_argument("--task", help="the history of this task id")
    parser.add_argument("--at", type=int, help="the state after this entry index")
    parser.add_argument(
        "--time", type=float, help="the state at this time (seconds since the epoch)"
    )
    parser.add_argument("--hooks", action="store_true", help="what the hooks returned")
    parser.add_argument(
        "--verify", action="store_true", help="check the replay gives the recorded effects"
    )
    parser.add_argument(
        "--partial", action="store_true", help="accept a recording missing its first segments"
    )
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    args = parser.parse_args(argv)
    try:
        replay = Replay(args.recording, partial=args.partial)
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out: Any
    text: str
    start = replay.recording.entries[0].now if replay.recording.entries else 0.0
    if args.task is not None:
        history = replay.task_history(args.task)
        out = history
        text = (
            "\n".join(
                f"#{e.index} +{e.now - start:.3f}s {e.source:<7} {e.message[0]:<16} "
                f"-> {e.state or '-'}"
                + "".join(f"\n      effect {x[0]} {json.dumps(_plain(x[1:]))}" for x in e.effects)
                for e in history
            )
            or f"task {args.task} does not appear"
        )
    elif args.at is not None or args.time is not None:
        moment = replay.at(args.at, time=args.time)
        view = moment.snapshot.view()
        out = {"index": moment.index, "now": moment.now, "state": view}
        text = (
            f"after entry #{moment.index} at {_when(moment.now)}: registered={view.registered} "
            f"framework={view.framework_id} reconciliation={view.reconciliation.phase}"
            f" round {view.reconciliation.round}\n"
            f"  agents {len(view.agents)}, offers {len(view.offers)}, tasks {len(view.tasks)}: "
            + ", ".join(f"{k} {len(v)}" for k, v in moment.snapshot.tasks_by_state().items())
        )
    elif args.hooks:
        calls = replay.hooks()
        out = calls
        text = "\n".join(
            f"#{c.index} +{c.now - start:.3f}s {c.source}: "
            + (f"{c.event}" if c.source != "message" else f"{c.event[0]}")
            + " -> "
            + (
                f"error {c.error}"
                if c.error
                else f"{[x[0] for x in c.commands]} replies {_plain(c.replies)}"
            )
            for c in calls
        )
    elif args.verify:
        mismatches = replay.verify()
        out = {"mismatches": [x.index for x in mismatches]}
        text = f"{len(mismatches)} messages whose effects differ" + (
            f": {out['mismatches'][:20]}" if mismatches else ""
        )
        if mismatches:
            print(json.dumps(out) if args.json else text)
            return 1
    else:
        out = replay.summary()
        text = _text_summary(out)
    print(json.dumps(_plain(out), indent=2) if args.json else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
