"""Units of the simulator's resource identity: reservations and volumes."""

from __future__ import annotations

import pytest

from ark.sim.resources import ResourceError, Resources, mesos_text

VOLUME = {"persistence": {"id": "v1"}, "volume": {"container_path": "data", "mode": "RW"}}


def _disk(value: float, **extra: object) -> dict[str, object]:
    return {"name": "disk", "type": "SCALAR", "scalar": {"value": value}, **extra}


def test_both_reservation_formats_are_one_identity() -> None:
    """Mesos's ``upgradeResources``: ``role`` plus ``reservation`` is one DYNAMIC
    reservation; ``role`` alone a STATIC one."""
    refined = Resources.from_json([_disk(5, reservations=[{"type": "DYNAMIC", "role": "db"}])])
    old = Resources.from_json([_disk(5, role="db", reservation={})])
    static = Resources.from_json([_disk(5, role="db")])
    assert refined == old
    assert refined != static
    assert refined.roles() == {"db"}


def test_reserved_and_unreserved_do_not_mix() -> None:
    """``Resources::contains`` compares identities, not just names and amounts."""
    unreserved = Resources.from_json([_disk(100)])
    reserved = Resources.from_json([_disk(10, reservations=[{"type": "DYNAMIC", "role": "db"}])])
    volume = Resources.from_json(
        [_disk(10, reservations=[{"type": "DYNAMIC", "role": "db"}], disk=VOLUME)]
    )
    assert not unreserved.contains(reserved)
    assert not reserved.contains(volume)
    total = unreserved + reserved
    assert total.contains(reserved) and total.contains(Resources({"disk": 100}))
    assert total.quantities() == Resources({"disk": 110})
    assert total.unreserved() == unreserved and total.reserved("db") == reserved
    assert (total - reserved).to_state()["disk"] == 100


def test_offer_formats() -> None:
    """A refinement-capable framework sees ``reservations`` and no ``role``; the
    others the pre-refinement ``role`` and ``reservation``, as the real master
    sends them."""
    volume = Resources.from_json(
        [_disk(10, reservations=[{"type": "DYNAMIC", "role": "db", "principal": "p"}], disk=VOLUME)]
    )
    (refined,) = volume.to_json("db", refinement=True)
    assert refined["reservations"] == [{"type": "DYNAMIC", "role": "db", "principal": "p"}]
    assert "role" not in refined and refined["disk"] == VOLUME
    (old,) = volume.to_json("db")
    assert old["role"] == "db" and old["reservation"] == {"principal": "p"}
    (plain,) = Resources({"cpus": 1}).to_json("db", refinement=True)
    assert "role" not in plain and plain["allocation_info"] == {"role": "db"}
    assert mesos_text(volume, "db") == (
        "disk(allocated: db)(reservations: [(DYNAMIC,db,p)])[v1:data:rw]:10"
    )


@pytest.mark.parametrize(
    "bad",
    [
        _disk(1, reservations=[{"type": "DYNAMIC"}]),
        _disk(1, reservations=[{"type": "SOMETIMES", "role": "db"}]),
        _disk(1, disk="v1"),
        _disk(1, role=7),
    ],
)
def test_malformed_identities_are_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ResourceError):
        Resources.from_json([bad])
