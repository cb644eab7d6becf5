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
# A stored request is opaque bytes to the store (msgpack TaskRequest to the scheduler).
stored_requests = st.none() | st.binary(max_size=40)
intents = st.builds(Intent, ids, ids, st.booleans(), stored_requests)
records = st.builds(
    Record,
    st.none() | ids,
    st.dictionaries(ids, intents).map(lambda d: {i.task_id: i for i in d.values()}),
    st.dictionaries(ids, st.binary(max_size=40), max_size=3),
)


@given(records)
def test_records_round_trip(record: Record) -> None:
    assert decode_record(encode_record(record)) == record


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_store_written_by_every_format_version_still_loads(version: int) -> None:
    # Fixtures written by the Ark of each version (1: msgpack, 2: protobuf,
    # 3: a protobuf snapshot); never regenerate one, add the next version's.
    data = (DATA / f"store-v{version}.bin").read_bytes()
    assert data[8] == version
    record = decode_record(data)
    assert record.framework_id == f"fw-v{version}"
    assert record.intents == {"t1": Intent("t1", "a1", True), "t2": Intent("t2", "a2")}


def test_a_store_written_before_requests_loads_without_them() -> None:
    # store-v3.bin was written by the Ark of format 3 before Intent.request.
    record = decode_record((DATA / "store-v3.bin").read_bytes())
    assert all(i.request is None for i in record.intents.values())


# One change to a store: (framework id, intents added, task ids removed,
# deployments changed, releases begun (bytes) or ended (None)).
changes = st.lists(
    st.tuples(
        st.none() | st.sampled_from(["fw-1", "fw-2"]),
        st.lists(
            st.builds(
                Intent,
                st.sampled_from(["t0", "t1", "t2"]),
                st.just("a"),
                st.booleans(),
                stored_requests,
            ),
            max_size=3,
            unique_by=lambda i: i.task_id,
        ),
        st.lists(st.sampled_from(["t0", "t1", "t2", "t3"]), max_size=2, unique=True),
        st.dictionaries(st.sampled_from(["web", "db"]), st.binary(max_size=8), max_size=2),
        st.dictionaries(
            st.sampled_from(["v0", "v1"]), st.none() | st.binary(max_size=8), max_size=2
        ),
    ),
    max_size=8,
)


@given(changes, st.booleans())
def test_requests_deployments_and_releases_survive_confirmations_reloads_and_compactions(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[
        tuple[str | None, list[Intent], list[str], dict[str, bytes], dict[str, bytes | None]]
    ],
    compact: bool,
) -> None:
    path = tmp_path_factory.mktemp("store") / "store"
    model: dict[str, Intent] = {}
    deployments: dict[str, bytes] = {}
    releases: dict[str, bytes] = {}
    framework_id: str | None = None
    with FileStore(path) as store:
        store.load()
        for fw, added, removed, changed, released in steps:
            removed = [t for t in removed if t not in {i.task_id for i in added}]
            store.apply(fw, added, removed, changed, released)
            deployments.update(changed)
            for pid, release in released.items():
                if release is None:
                    releases.pop(pid, None)
                else:
                    releases[pid] = release
            framework_id = fw if fw is not None else framework_id
            for task_id in removed:
                model.pop(task_id, None)
            for intent in added:
                before = model.get(intent.task_id)
                # An intent without a request keeps the one stored (a confirmation).
                if intent.request is None and before is not None:
                    intent = Intent(
                        intent.task_id, intent.agent_id, intent.confirmed, before.request
                    )
                model[intent.task_id] = intent
        assert store.load() == Record(framework_id, model, deployments, releases)
        if compact:
            store.save(store.load())
    with FileStore(path) as again:
        assert again.load() == Record(framework_id, model, deployments, releases)


def test_new_records_are_written_in_the_current_format() -> None:
    assert encode_record(Record())[8] == FORMAT_VERSION == 3


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
store.load()
i = 0
print("ready", flush=True)
while True:
    i += 1
    if i % 40 == 0:
        store.save(Record(f"fw-{i}", {f"t{j}": Intent(f"t{j}", "a") for j in range(i % 50)}))
    else:
        store.apply(f"fw-{i}", [Intent(f"t{i}-{j}", "a") for j in range(i % 7)], [f"t{i - 1}-0"])
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
            # And it takes the next write, over whatever a torn append left.
            store.apply(f"fw-after-{trial}", [Intent("after", "a")], [])
            assert store.load().intents["after"] == Intent("after", "a")


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


# --- the log: only what changed is written -------------------------------------------


def test_deltas_append_fold_on_load_and_compact(tmp_path: Path) -> None:
    path = tmp_path / "store"
    expected: dict[str, Intent] = {}
    with FileStore(path) as store:
        assert store.load() == Record()
        store.apply("fw", [Intent("t0", "a")], [])
        expected["t0"] = Intent("t0", "a")
        log = store.log_path.stat().st_size
        for i in range(1, 50):
            added = [Intent(f"t{i}", "a"), Intent(f"t{i - 1}", "a", confirmed=True)]
            store.apply(None, added, [f"t{i - 2}"] if i >= 2 else [])
            expected.update({x.task_id: x for x in added})
            expected.pop(f"t{i - 2}", None)
        # No snapshot was written yet: the log grew by the deltas alone.
        assert not path.exists()
        assert store.log_path.stat().st_size - log < 49 * 80
    with FileStore(path) as again:
        assert again.load() == Record("fw", expected)
        again.save(Record("fw", expected))  # a compaction: the log is gone
        assert not again.log_path.exists()
        again.apply(None, [], ["t49"])
        expected.pop("t49")
        assert again.load() == Record("fw", expected)


def test_the_log_is_compacted_once_it_outgrows_the_snapshot(tmp_path: Path) -> None:
    with FileStore(tmp_path / "store") as store:
        store.load()
        store.apply("fw", [Intent(f"t{i}", "a") for i in range(100)], [])
        for i in range(5000):
            # Churn: the live set stays at 100 while the log would grow forever.
            store.apply(None, [Intent(f"n{i}", "a")], [f"n{i - 1}"] if i else [])
        assert store.log_path.stat().st_size < 2 * 1024 * 1024
        assert len(store.load().intents) == 101


def test_a_log_left_from_before_a_compaction_is_ignored(tmp_path: Path) -> None:
    with FileStore(tmp_path / "store") as store:
        store.load()
        store.apply("fw", [Intent("t1", "a")], [])
        old_log = store.log_path.read_bytes()
        store.save(Record("fw", {"t2": Intent("t2", "a")}))
        # As if the process died between the snapshot's rename and the log's unlink.
        store.log_path.write_bytes(old_log)
        assert store.load() == Record("fw", {"t2": Intent("t2", "a")})
        store.apply(None, [Intent("t3", "a")], [])
        assert set(store.load().intents) == {"t2", "t3"}


def test_a_damaged_log_entry_is_corrupt_and_a_torn_last_one_is_not(tmp_path: Path) -> None:
    with FileStore(tmp_path / "store") as store:
        store.load()
        store.apply("fw", [Intent("t1", "a")], [])
        store.apply(None, [Intent("t2", "a")], [])
        log = store.log_path.read_bytes()
        store.log_path.write_bytes(log[:-3])  # the last append, cut short
        assert set(store.load().intents) == {"t1"}
        store.apply(None, [Intent("t3", "a")], [])
        assert set(store.load().intents) == {"t1", "t3"}
        damaged = bytearray(store.log_path.read_bytes())
        damaged[-2] ^= 0x55
        store.log_path.write_bytes(bytes(damaged))
        with pytest.raises(StoreCorrupt, match="checksum"):
            store.load()


def test_a_delta_too_big_for_one_entry_is_split(tmp_path: Path) -> None:
    many = [Intent(f"task-{i:06d}-{'x' * 40}", f"agent-{i % 100}") for i in range(30_000)]
    with FileStore(tmp_path / "store") as store:
        store.load()
        store.apply("fw", many[:10], [])
        store.apply(None, many[10:], [])
        assert store.load() == Record("fw", {i.task_id: i for i in many})


def test_a_deposed_leaders_deltas_are_refused(zookeeper: str) -> None:
    path = f"/ark-store-{uuid.uuid4().hex[:8]}"
    first, first_terms = elected(zookeeper, path)
    wait_until(lambda: first_terms)
    second, second_terms = elected(zookeeper, path)
    old = ZooKeeperStore(second.client, f"{path}/state", first_terms[0])
    old.load()
    old.apply("fw", [Intent("t1", "a")], [])
    old.apply(None, [Intent("t2", "a")], [])
    first.stop()
    wait_until(lambda: second_terms)
    with pytest.raises(StoreFenced, match="no longer current"):
        old.apply(None, [Intent("t3", "a")], [])
    with pytest.raises(StoreFenced, match="no longer current"):
        old.save(Record("fw"))
    new = ZooKeeperStore(second.client, f"{path}/state", second_terms[0])
    assert new.load() == Record("fw", {"t1": Intent("t1", "a"), "t2": Intent("t2", "a")})
    new.apply(None, [], ["t1"])
    assert ZooKeeperStore(second.client, f"{path}/state", second_terms[0]).load() == Record(
        "fw", {"t2": Intent("t2", "a")}
    )
    second.stop()


def test_a_hundred_thousand_intents_in_zookeeper(zookeeper: str) -> None:
    from kazoo.client import KazooClient

    path = f"/ark-store-{uuid.uuid4().hex[:8]}"
    election, terms = elected(zookeeper, path)
    wait_until(lambda: terms)
    store = ZooKeeperStore(election.client, f"{path}/state", terms[0])
    store.load()
    expected: dict[str, Intent] = {}
    for batch in range(110):
        added = [Intent(f"task-{batch}-{i}", f"agent-{i % 997}") for i in range(1000)]
        # Confirmations ride along, as the scheduler sends them.
        confirmed = [Intent(f"task-{batch - 1}-{i}", f"agent-{i}", True) for i in range(50)]
        store.apply("fw", added + (confirmed if batch else []), [])
        expected.update({i.task_id: i for i in added + (confirmed if batch else [])})
    assert len(expected) == 110_000
    # Every znode stays far below ZooKeeper's 1 MiB, whatever the framework's size.
    zk = KazooClient(hosts=zookeeper)
    zk.start()
    try:
        children = zk.get_children(f"{path}/state")
        sizes = [zk.get(f"{path}/state/{c}")[0].__len__() for c in children]
        assert max(sizes) <= 512 * 1024
        started = time.monotonic()
        loaded = ZooKeeperStore(zk, f"{path}/state", terms[0]).load()
        assert time.monotonic() - started < 10
        assert loaded == Record("fw", expected)
        # A missing chunk is corruption, not an empty store.
        chunk = next(c for c in children if c.startswith("s-"))
        zk.delete(f"{path}/state/{chunk}")
        with pytest.raises(StoreCorrupt, match="chunks missing"):
            ZooKeeperStore(zk, f"{path}/state", terms[0]).load()
    finally:
        zk.stop()
        zk.close()
        election.stop()


def test_a_version_2_store_in_zookeeper_loads_and_is_converted(zookeeper: str) -> None:
    path = f"/ark-store-{uuid.uuid4().hex[:8]}"
    election, terms = elected(zookeeper, path)
    wait_until(lambda: terms)
    v2 = (DATA / "store-v2.bin").read_bytes()
    election.client.create(f"{path}/state", v2, makepath=True)
    store = ZooKeeperStore(election.client, f"{path}/state", terms[0])
    assert store.load() == decode_record(v2)
    store.apply(None, [Intent("t3", "a3")], ["t1"])
    data, _ = election.client.get(f"{path}/state")
    assert data[8] == 3  # an older Ark refuses it by name now, rather than misread it
    assert ZooKeeperStore(election.client, f"{path}/state", terms[0]).load() == Record(
        "fw-v2", {"t2": Intent("t2", "a2"), "t3": Intent("t3", "a3")}
    )
    election.stop()


def test_a_gap_in_the_zookeeper_log_is_corrupt(zookeeper: str) -> None:
    path = f"/ark-store-{uuid.uuid4().hex[:8]}"
    election, terms = elected(zookeeper, path)
    wait_until(lambda: terms)
    store = ZooKeeperStore(election.client, f"{path}/state", terms[0])
    store.load()
    for i in range(4):
        store.apply("fw", [Intent(f"t{i}", "a")], [])
    entries = [c for c in election.client.get_children(f"{path}/state") if c.startswith("l-")]
    assert len(entries) == 3  # the first write made the snapshot
    election.client.delete(f"{path}/state/{sorted(entries)[1]}")
    with pytest.raises(StoreCorrupt, match="gap"):
        ZooKeeperStore(election.client, f"{path}/state", terms[0]).load()
    election.stop()


def test_deployments_are_stored_by_group_as_they_change(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with FileStore(path) as store:
        store.load()
        store.apply("fw", [Intent("t0", "a")], [], {"web": b"v1", "db": b"d1"})
        store.apply(None, [], [], {"web": b"v2"})  # a log entry of the change alone
        expected = Record("fw", {"t0": Intent("t0", "a")}, {"web": b"v2", "db": b"d1"})
        assert store.load() == expected
    with FileStore(path) as again:
        assert again.load() == expected
        again.save(expected)  # compacted: in the snapshot now
        assert not again.log_path.exists()
        assert again.load() == expected
    assert decode_record(path.read_bytes()) == expected


def test_releases_are_stored_until_given_up(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with FileStore(path) as store:
        store.load()
        store.apply("fw", [], [], None, {"db-0-data": b"r0", "db-1-data": b"r1"})
        store.apply(None, [], [], None, {"db-0-data": None})  # given up: a log entry
        expected = Record("fw", {}, {}, {"db-1-data": b"r1"})
        assert store.load() == expected
    with FileStore(path) as again:
        assert again.load() == expected
        again.save(expected)  # compacted: in the snapshot now
        assert again.load() == expected
    assert decode_record(path.read_bytes()) == expected
