"""The durable store: format, atomic file writes, fencing in ZooKeeper."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ark.election import LeaderElection, Term
from ark.store import (
    FORMAT_VERSION,
    FileStore,
    Intent,
    Record,
    StoreCorrupt,
    StoreFenced,
    ZooKeeperStore,
    decode_record,
    encode_record,
)
from waiting import wait_until

DATA = Path(__file__).parent / "data"

ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
records = st.builds(
    Record,
    st.none() | ids,
    st.dictionaries(ids, st.builds(Intent, ids, ids, st.booleans())).map(
        lambda d: {i.task_id: i for i in d.values()}
    ),
)


@given(records)
def test_records_round_trip(record: Record) -> None:
    assert decode_record(encode_record(record)) == record


@pytest.mark.parametrize("version", [1, 2])
def test_a_store_written_by_every_format_version_still_loads(version: int) -> None:
    # Fixtures written by the Ark of each version (1: msgpack, 2: protobuf);
    # never regenerate one, add the next version's.
    data = (DATA / f"store-v{version}.bin").read_bytes()
    assert data[8] == version
    record = decode_record(data)
    assert record.framework_id == f"fw-v{version}"
    assert record.intents == {"t1": Intent("t1", "a1", True), "t2": Intent("t2", "a2")}


def test_new_records_are_written_in_the_current_format() -> None:
    assert encode_record(Record())[8] == FORMAT_VERSION == 2


def test_every_truncation_and_every_flipped_byte_is_a_clear_error() -> None:
    data = encode_record(Record("fw", {"t1": Intent("t1", "a1")}))
    for end in range(len(data)):
        with pytest.raises(StoreCorrupt):
            decode_record(data[:end])
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0x55
        with pytest.raises(StoreCorrupt):
            decode_record(bytes(damaged))


def test_a_newer_format_is_refused_by_name() -> None:
    data = bytearray(encode_record(Record()))
    data[8] = 9
    with pytest.raises(StoreCorrupt, match="version 9 is newer"):
        decode_record(bytes(data))


def test_file_store_saves_loads_and_refuses_a_second_process(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    assert store.load() == Record()
    record = Record("fw", {"t1": Intent("t1", "a1")})
    store.save(record)
    assert store.load() == record
    with pytest.raises(StoreFenced, match="in use"):
        FileStore(tmp_path / "store")
    store.close()
    with FileStore(tmp_path / "store") as again:
        assert again.load() == record


def test_a_corrupt_file_refuses_to_load(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.write_bytes(encode_record(Record("fw"))[:-3])
    with FileStore(path) as store, pytest.raises(StoreCorrupt, match="checksum"):
        store.load()


WRITER = """
import sys
from ark.store import FileStore, Intent, Record
store = FileStore(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    i += 1
    store.save(Record(f"fw-{i}", {f"t{j}": Intent(f"t{j}", "a") for j in range(i % 50)}))
"""


def test_a_writer_killed_at_any_moment_leaves_a_loadable_file(tmp_path: Path) -> None:
    path = tmp_path / "store"
    for trial in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.02 + trial * 0.013)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        # The lock died with its process: the next one may open the store.
        with FileStore(path) as store:
            record = store.load()
        assert record.framework_id is None or record.framework_id.startswith("fw-")


def elected(hosts: str, path: str) -> tuple[LeaderElection, list[Term]]:
    terms: list[Term] = []
    election = LeaderElection(hosts, path, terms.append, lambda: None, session_timeout=2.0)
    return election.start(), terms


def test_a_deposed_leaders_writes_are_refused(zookeeper: str) -> None:
    path = f"/ark-store-{uuid.uuid4().hex[:8]}"
    first, first_terms = elected(zookeeper, path)
    wait_until(lambda: first_terms, 20)
    second, second_terms = elected(zookeeper, path)
    old = ZooKeeperStore(second.client, f"{path}/state", first_terms[0])
    old.save(Record("fw"))
    first.stop()
    wait_until(lambda: second_terms, 20)
    assert second_terms[0].epoch == first_terms[0].epoch + 1
    with pytest.raises(StoreFenced, match="no longer current"):
        old.save(Record("fw", {"t": Intent("t", "a")}))
    new = ZooKeeperStore(second.client, f"{path}/state", second_terms[0])
    assert new.load() == Record("fw")
    new.save(Record("fw", {"t": Intent("t", "a")}))
    assert new.load().intents == {"t": Intent("t", "a")}
    second.stop()


def test_a_well_checksummed_v2_body_missing_an_id_is_corrupt() -> None:
    from ark.protobuf import StoreRecord

    message = StoreRecord()
    message.intents.add(task_id="t1")  # no agent_id, which is required
    body = message.SerializePartialToString()
    data = b"ARKSTORE" + bytes([2]) + zlib.crc32(body).to_bytes(4, "big") + body
    with pytest.raises(StoreCorrupt, match="lacks its task or agent id"):
        decode_record(data)
