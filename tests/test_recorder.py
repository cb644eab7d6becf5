"""The flight recorder's log on disk: what it holds, torn tails, rotation and the disk bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import msgspec
import pytest

from ark import _core
from ark import messages as m
from ark.recorder import (
    FORMAT_VERSION,
    MAGIC,
    Recorder,
    RecordingError,
    Source,
    read_recording,
)
from ark.replay import Replay
from waiting import wait_until

DATA = Path(__file__).parent / "data"


def tape(count: int, core: _core.Core | None = None) -> bytes:
    """The core's tape after stepping ``count`` updates through a pump."""
    core = core or _core.Core()
    core.record(True)
    inbox = _core.Inbox()
    inbox.push(m.encode(m.Subscribed("fw")))
    for i in range(count):
        status = m.TaskStatus(f"t{i}", "TASK_RUNNING", agent_id="a1", uuid=b"u" * 16)
        inbox.push(m.encode(m.Update(status)))
    taken = 0
    while taken < count + 1:
        taken += core.pump(inbox, hooked=set(), timeout=0.0)[4]
    return core.take_recording()


def test_a_recording_reads_back_every_entry_in_order(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "rec")
    recorder.start(msgspec.msgpack.encode(None))
    recorder.write(tape(10))
    recorder.close()
    recording = read_recording(tmp_path / "rec")
    assert recording.version == FORMAT_VERSION
    assert recording.complete and not recording.torn
    assert [e.index for e in recording.entries] == list(range(11))
    assert all(e.source is Source.INBOX for e in recording.entries)
    assert m.decode(recording.entries[0].message) == m.Subscribed("fw")
    assert recording.entries[3].message == m.encode(
        m.Update(m.TaskStatus("t2", "TASK_RUNNING", agent_id="a1", uuid=b"u" * 16))
    )


def test_the_tape_is_empty_when_not_recording() -> None:
    core = _core.Core()
    core.step(m.encode(m.Subscribed("fw")), now=1.0)
    assert core.take_recording() == b""
    core.note(b"ignored", now=1.0)
    assert core.take_recording() == b""


def test_a_directory_that_holds_a_recording_is_refused(tmp_path: Path) -> None:
    Recorder(tmp_path).start(b"")
    with pytest.raises(RecordingError, match="already holds"):
        Recorder(tmp_path)


def test_a_torn_tail_is_left_out_never_misread(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.start(b"")
    recorder.write(tape(3))
    recorder.close()
    segment = tmp_path / "segment-00000000.rec"
    whole = segment.read_bytes()
    second = tape(2)
    record = len(second).to_bytes(4, "little") + zlib.crc32(second).to_bytes(4, "little") + second
    # Every cut of a record appended after the whole ones reads back as the whole ones.
    for cut in range(len(record)):
        segment.write_bytes(whole + record[:cut])
        recording = read_recording(tmp_path)
        assert len(recording.entries) == 4
        assert recording.torn == (cut > 0)
    # A flipped byte fails the checksum: the record is dropped, not misread.
    damaged = bytearray(record)
    damaged[-1] ^= 0xFF
    segment.write_bytes(whole + bytes(damaged))
    assert len(read_recording(tmp_path).entries) == 4
    segment.write_bytes(whole + record)
    assert len(read_recording(tmp_path).entries) == 7


def test_segments_rotate_and_the_oldest_go_past_the_bound(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, segment_bytes=4096, max_bytes=16384)
    recorder.start(b"")
    core = _core.Core()
    for _ in range(40):
        # One record per batch: the writer merges what it finds queued.
        data = tape(20, core)
        expected = recorder.written + len(data)
        recorder.write(data)
        wait_until(lambda expected=expected: recorder.written == expected)
    recorder.close()
    segments = sorted(tmp_path.glob("segment-*.rec"))
    assert len(segments) > 1
    assert sum(p.stat().st_size for p in segments) <= 16384
    assert segments[0].name != "segment-00000000.rec"
    recording = read_recording(tmp_path)
    assert not recording.complete
    assert len(recording.entries) % 21 == 0
    with pytest.raises(RecordingError, match="partial=True"):
        Replay(recording)
    assert Replay(recording, partial=True).summary().messages["Update"] > 0


def test_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no recording"):
        read_recording(tmp_path)
    (tmp_path / "segment-00000000.rec").write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(RecordingError, match="not an Ark recording"):
        read_recording(tmp_path)
    (tmp_path / "segment-00000000.rec").write_bytes(
        MAGIC + (FORMAT_VERSION + 1).to_bytes(4, "little")
    )
    with pytest.raises(RecordingError, match="format"):
        read_recording(tmp_path)


def test_format_version_1_fixture_still_reads_and_replays() -> None:
    """tests/data/recording-v1 was written once by format 1 and is never regenerated."""
    # Made by tests/test_replay.py's ``recorded`` fixture: matching, a hook's
    # Kill, two asks, a master failover, three reconciliation rounds.
    replay = Replay(DATA / "recording-v1")
    assert replay.recording.version == 1
    assert replay.recording.complete and not replay.recording.torn
    assert replay.verify() == []
    summary = replay.summary()
    assert summary.entries == 23 and summary.hooks == 7 and summary.commands == 3
    assert summary.messages == {
        "Disconnected": 1,
        "Kill": 1,
        "Offers": 1,
        "ReconcileTimeout": 3,
        "Request": 2,
        "Reregistered": 1,
        "Subscribed": 1,
        "Tick": 2,
        "Update": 4,
    }
    assert summary.tasks == {"TASK_RUNNING": 3}
    assert (summary.reconciliations, summary.explicit_reconciles, summary.failovers) == (2, 3, 1)
    asks = [call for call in replay.hooks() if call.source == "custom"]
    assert [call.event[1] for call in asks] == ["test_replay:Want"] * 2
    assert [call.replies for call in asks] == [[3], [2]]


CHILD = textwrap.dedent(
    """
    import sys, time
    from ark import _core, messages as m
    from ark.recorder import Recorder
    recorder = Recorder(sys.argv[1], segment_bytes=1 << 16, max_bytes=1 << 30)
    recorder.start(b"")
    core = _core.Core()
    core.record(True)
    core.step_routed(m.encode(m.Subscribed("fw")))
    i = 0
    while True:
        for _ in range(50):
            status = m.TaskStatus(f"t{i}", "TASK_RUNNING", agent_id="a1", uuid=b"u" * 16)
            core.step_routed(m.encode(m.Update(status)))
            i += 1
        recorder.write(core.take_recording())
        if i == 5000:
            print("ready", flush=True)
    """
)


def test_sigkill_mid_write_reads_back_to_the_last_whole_record(tmp_path: Path) -> None:
    path = tmp_path / "rec"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        wait_until(lambda: len(list(path.glob("segment-*.rec"))) >= 3)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    recording = read_recording(path)
    assert recording.complete
    assert len(recording.entries) > 1000  # two whole segments of 64 KiB at least
    # Entries are whole and in order: the updates t0, t1, ... with none missing.
    assert m.decode(recording.entries[0].message) == m.Subscribed("fw")
    for entry in recording.entries[1:]:
        update = m.decode(entry.message)
        assert isinstance(update, m.Update)
        assert update.status.task_id == f"t{entry.index - 1}"
