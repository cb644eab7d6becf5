"""Offer operations in plain Python: RESERVE, UNRESERVE, CREATE, DESTROY.

The reference twin of ``rust/src/operations.rs``: what each operation does
to the scalars of the offers it runs on (``docs/reducer.md``, **Reservations
and volumes**), and the reservations and volumes a framework holds because
of them.
"""

from __future__ import annotations

from ark import messages as m
from ark.errors import CommandRejected
from ark.state import VolumeRecord

__all__ = ["Key", "apply", "key", "track", "volume_of"]

#: Sums may fall short by less than this (float rounding).
_EPSILON = 1e-9

#: What tells resources of one name apart: role, reserved or not, volume.
Key = tuple[str, str, bool, str | None]


def key(r: m.Resource) -> Key:
    return (r.name, r.role, bool(r.reservations), r.persistence_id)


def apply(operations: list[m.Operation], scalars: dict[Key, float]) -> None:
    """Run ``operations`` in order on the offered ``scalars`` (changed in place).

    Raises
    ------
    CommandRejected
        An operation of the wrong shape, or one the offers cannot hold.
    """
    for op in operations:
        if not op.resources:
            raise CommandRejected(f"a {op.type} operation names no resource")
        for r in op.resources:
            amount = _check(op.type, r)
            name, role, _, volume = key(r)
            moves: dict[str, tuple[Key, Key]] = {
                "RESERVE": ((name, role, False, None), (name, role, True, None)),
                "UNRESERVE": ((name, role, True, None), (name, role, False, None)),
                "CREATE": ((name, role, True, None), (name, role, True, volume)),
                "DESTROY": ((name, role, True, volume), (name, role, True, None)),
            }
            source, target = moves[op.type]
            if op.type == "CREATE" and scalars.get(target, 0.0) > 0.0:
                raise CommandRejected(f"CREATE of volume {volume!r}: the offers hold it already")
            # Unreserved resources are offered as role "*" (or, to frameworks
            # with RESERVATION_REFINEMENT, as their allocation role): RESERVE
            # takes the allocation role's first, then "*"'s; UNRESERVE gives
            # back to "*", which plain launches use.
            sources = [source]
            if op.type == "RESERVE" and role != "*":
                sources.append((name, "*", False, None))
            if op.type == "UNRESERVE":
                target = (name, "*", False, None)
            held = sum(scalars.get(k, 0.0) for k in sources)
            if amount - held >= _EPSILON:
                raise CommandRejected(f"{op.type} needs {amount} {name} (role {role}), held {held}")
            left = amount
            for k in sources:
                have = scalars.get(k, 0.0)
                taken = min(left, max(have, 0.0)) if k == source else left
                scalars[k] = have - taken
                left -= taken
            scalars[target] = scalars.get(target, 0.0) + amount


def _check(kind: str, r: m.Resource) -> float:
    if r.scalar is None or r.ranges is not None or r.set is not None:
        raise CommandRejected(f"{kind} takes scalars > 0: {r.name} is not one")
    amount = r.scalar
    if not (amount > 0.0 and amount != float("inf")):
        raise CommandRejected(f"{kind} takes scalars > 0: {r.name} is not one")
    if not r.reservations:
        raise CommandRejected(f"{kind} of {r.name}: no reservation")
    last = r.reservations[-1]
    if last.role != r.role:
        raise CommandRejected(f"{kind} of {r.name}: role {r.role!r} is not {last.role!r}")
    volume = r.persistence_id is not None
    if kind in ("RESERVE", "UNRESERVE"):
        if volume:
            raise CommandRejected(f"{kind} of {r.name}: a persistent volume")
        if last.type != "DYNAMIC":
            raise CommandRejected(f"{kind} of {r.name}: only a DYNAMIC reservation")
    else:
        if r.name != "disk" or not volume:
            raise CommandRejected(f"{kind} takes disk with a persistence_id, not {r.name}")
        if kind == "CREATE" and not r.container_path:
            raise CommandRejected(f"CREATE of volume {r.persistence_id!r}: no container_path")
    return amount


def volume_of(agent_id: str, r: m.Resource) -> VolumeRecord | None:
    """The volume a disk resource is, if it is one."""
    if r.persistence_id is None:
        return None
    return VolumeRecord(
        r.persistence_id,
        agent_id,
        r.role,
        r.scalar if r.scalar is not None else 0.0,
        r.container_path,
        r.reservations[-1].principal if r.reservations else None,
    )


def track(
    volumes: dict[str, VolumeRecord],
    reserved: dict[tuple[str, str, str], float],
    agent_id: str,
    operations: list[m.Operation],
) -> None:
    """Record what accepted operations reserve and create on ``agent_id``; forget the rest."""
    for op in operations:
        for r in op.resources:
            k = (agent_id, r.name, r.role)
            amount = r.scalar if r.scalar is not None else 0.0
            if op.type == "RESERVE":
                reserved[k] = reserved.get(k, 0.0) + amount
            elif op.type == "UNRESERVE":
                left = reserved.get(k, 0.0) - amount
                if left < _EPSILON:
                    reserved.pop(k, None)
                else:
                    reserved[k] = left
            elif op.type == "CREATE":
                volume = volume_of(agent_id, r)
                if volume is not None:
                    volumes[volume.persistence_id] = volume
            elif r.persistence_id is not None:
                volumes.pop(r.persistence_id, None)
