"""Agent and task resources: scalars (cpus, mem, disk, gpus) and port ranges.

Converted from and to the v1 JSON ``Resource`` list. A resource's identity
is its name, its reservations and its persistent volume (``disk``), as
Mesos's ``Resources`` compares them: reserved ``disk`` neither satisfies
nor is satisfied by unreserved ``disk``. Unreserved resources are keyed by
their bare name; the others by `resource_key`, so arithmetic needs no
special case. The allocation role is not part of the identity: an offer is
allocated to one role, the framework's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = ["ResourceError", "Resources", "mesos_text", "resource_key", "split_key"]

# Separates a resource's name from its identity (reservations, volume) in a key.
_SEP = "\x1f"


def resource_key(
    name: str, reservations: list[dict[str, Any]], disk: dict[str, Any] | None = None
) -> str:
    """The key of a resource: its bare name when unreserved and without a volume."""
    if not reservations and disk is None:
        return name
    identity = json.dumps([reservations, disk], sort_keys=True, separators=(",", ":"))
    return name + _SEP + identity


def split_key(key: str) -> tuple[str, list[dict[str, Any]], dict[str, Any] | None]:
    """A key's name, reservations (oldest first) and ``disk`` (persistence, volume)."""
    name, sep, identity = key.partition(_SEP)
    if not sep:
        return name, [], None
    reservations, disk = json.loads(identity)
    return name, reservations, disk


def _reservations(r: dict[str, Any]) -> list[dict[str, Any]]:
    """A JSON resource's reservations, upgraded to the refinement format.

    Mesos's ``upgradeResource``: a pre-refinement ``role`` other than ``*``
    is one reservation, DYNAMIC if ``reservation`` is set, else STATIC.
    """
    given = r.get("reservations")
    if isinstance(given, list) and given:
        out = []
        for reservation in given:
            if not isinstance(reservation, dict) or not isinstance(reservation.get("role"), str):
                raise ResourceError(f"malformed reservation {reservation!r}")
            kind = reservation.get("type", "DYNAMIC")
            if kind not in ("STATIC", "DYNAMIC"):
                raise ResourceError(f"unknown reservation type {kind!r}")
            out.append(_reservation(kind, reservation["role"], reservation))
        return out
    role = r.get("role", "*")
    if role in ("*", None):
        return []
    if not isinstance(role, str):
        raise ResourceError(f"malformed role {role!r}")
    info = r.get("reservation")
    kind = "DYNAMIC" if isinstance(info, dict) else "STATIC"
    return [_reservation(kind, role, info if isinstance(info, dict) else {})]


def _reservation(kind: str, role: str, info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "role": role}
    for field in ("principal", "labels"):
        if info.get(field) not in (None, "", {}):
            out[field] = info[field]
    return out


def _disk(r: dict[str, Any]) -> dict[str, Any] | None:
    """A JSON resource's persistent volume (``persistence`` and ``volume``), or None."""
    disk = r.get("disk")
    if disk is None:
        return None
    if not isinstance(disk, dict):
        raise ResourceError(f"malformed disk {disk!r}")
    out = {k: disk[k] for k in ("persistence", "volume") if disk.get(k) is not None}
    return out or None


# Float sums of cpus drift; Mesos compares scalars at a fixed precision too.
_EPSILON = 1e-6


class ResourceError(ValueError):
    """A ``Resource`` that cannot be understood."""


Range = tuple[int, int]


def _merge(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return merged


def _subtract_ranges(have: list[Range], take: list[Range]) -> list[Range]:
    result: list[Range] = []
    for begin, end in have:
        pieces = [(begin, end)]
        for tb, te in take:
            nxt: list[Range] = []
            for pb, pe in pieces:
                if te < pb or tb > pe:
                    nxt.append((pb, pe))
                    continue
                if pb < tb:
                    nxt.append((pb, tb - 1))
                if te < pe:
                    nxt.append((te + 1, pe))
            pieces = nxt
        result.extend(pieces)
    return _merge(result)


def _covers(have: list[Range], take: list[Range]) -> bool:
    return all(any(hb <= tb and te <= he for hb, he in have) for tb, te in take)


class Resources:
    """A bag of named scalar and range resources; immutable by convention."""

    __slots__ = ("ranges", "scalars")

    def __init__(
        self,
        scalars: dict[str, float] | None = None,
        ranges: dict[str, list[Range]] | None = None,
    ) -> None:
        self.scalars: dict[str, float] = {k: v for k, v in (scalars or {}).items() if v > _EPSILON}
        self.ranges: dict[str, list[Range]] = {k: _merge(v) for k, v in (ranges or {}).items() if v}

    @classmethod
    def from_json(cls, resources: Any) -> Resources:
        """Parse a v1 JSON ``Resource`` list; raise `ResourceError` if malformed."""
        if not isinstance(resources, list):
            raise ResourceError("'resources' must be a list")
        scalars: dict[str, float] = {}
        ranges: dict[str, list[Range]] = {}
        for r in resources:
            if not isinstance(r, dict) or not isinstance(r.get("name"), str):
                raise ResourceError(f"malformed resource {r!r}")
            name, kind = r["name"], r.get("type", "SCALAR")
            try:
                key = resource_key(name, _reservations(r), _disk(r))
                if kind == "SCALAR":
                    value = float(r["scalar"]["value"])
                    if value < 0 or value != value:
                        raise ResourceError(f"negative or NaN scalar resource {name}")
                    scalars[key] = scalars.get(key, 0.0) + value
                elif kind == "RANGES":
                    for rg in r["ranges"]["range"]:
                        begin, end = int(rg["begin"]), int(rg["end"])
                        if begin > end:
                            raise ResourceError(f"bad range {begin}-{end} in {name}")
                        ranges.setdefault(key, []).append((begin, end))
                else:
                    raise ResourceError(f"unsupported resource type {kind!r} for {name}")
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                if isinstance(exc, ResourceError):
                    raise
                raise ResourceError(f"malformed resource {name}: {exc!r}") from None
        return cls(scalars, ranges)

    def to_json(self, role: str = "*", *, refinement: bool = False) -> list[dict[str, Any]]:
        """The v1 JSON ``Resource`` list, allocated to ``role``.

        In the format Mesos offers a framework: with ``reservations`` and no
        ``role`` if it is RESERVATION_REFINEMENT capable, else the
        pre-refinement ``role`` (``*`` when unreserved) and ``reservation``.
        """
        out: list[dict[str, Any]] = []
        for key, value in self.scalars.items():
            resource = {"type": "SCALAR", "scalar": {"value": round(value, 6)}}
            out.append(_identity_json(key, resource, role, refinement))
        for key, rs in self.ranges.items():
            resource = {
                "type": "RANGES",
                "ranges": {"range": [{"begin": b, "end": e} for b, e in rs]},
            }
            out.append(_identity_json(key, resource, role, refinement))
        return out

    def to_state(self) -> dict[str, Any]:
        """The flat shape of ``/master/state``: ``{"cpus": 1.0, "ports": "[31000-32000]"}``."""
        flat = self.quantities()
        out: dict[str, Any] = {k: 0.0 for k in ("cpus", "mem", "disk", "gpus")}
        out.update(flat.scalars)
        for name, rs in flat.ranges.items():
            out[name] = "[" + ", ".join(f"{b}-{e}" for b, e in rs) + "]"
        return out

    def quantities(self) -> Resources:
        """The same amounts by bare name: reservations and volumes forgotten."""
        if all(_SEP not in k for k in (*self.scalars, *self.ranges)):
            return self
        scalars: dict[str, float] = {}
        for key, value in self.scalars.items():
            name = key.partition(_SEP)[0]
            scalars[name] = scalars.get(name, 0.0) + value
        ranges: dict[str, list[Range]] = {}
        for key, rs in self.ranges.items():
            ranges.setdefault(key.partition(_SEP)[0], []).extend(rs)
        return Resources(scalars, ranges)

    def filter(self, keep: Any) -> Resources:
        """The resources whose key ``keep(key)`` accepts."""
        return Resources(
            {k: v for k, v in self.scalars.items() if keep(k)},
            {k: v for k, v in self.ranges.items() if keep(k)},
        )

    def unreserved(self) -> Resources:
        """The unreserved resources."""
        return self.filter(lambda key: not split_key(key)[1])

    def reserved(self, role: str | None = None) -> Resources:
        """The reserved resources (for ``role``, the last reservation's, if given)."""

        def keep(key: str) -> bool:
            reservations = split_key(key)[1]
            return bool(reservations) and role in (None, reservations[-1]["role"])

        return self.filter(keep)

    def roles(self) -> set[str]:
        """The roles these resources are reserved for."""
        roles: set[str] = set()
        for key in (*self.scalars, *self.ranges):
            if _SEP in key:  # Cheap first: most resources are unreserved.
                reservations = split_key(key)[1]
                if reservations:
                    roles.add(reservations[-1]["role"])
        return roles

    def empty(self) -> bool:
        """Whether nothing is left."""
        return not self.scalars and not self.ranges

    def contains(self, other: Resources) -> bool:
        """Whether ``other`` fits inside these resources."""
        for name, value in other.scalars.items():
            if self.scalars.get(name, 0.0) + _EPSILON < value:
                return False
        return all(_covers(self.ranges.get(n, []), rs) for n, rs in other.ranges.items())

    def __add__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for name, value in other.scalars.items():
            scalars[name] = scalars.get(name, 0.0) + value
        ranges = {n: list(rs) for n, rs in self.ranges.items()}
        for name, rs in other.ranges.items():
            ranges.setdefault(name, []).extend(rs)
        return Resources(scalars, ranges)

    def __sub__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for name, value in other.scalars.items():
            scalars[name] = scalars.get(name, 0.0) - value
        ranges = {n: _subtract_ranges(rs, other.ranges.get(n, [])) for n, rs in self.ranges.items()}
        return Resources(scalars, ranges)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return self.contains(other) and other.contains(self)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value type

    def __repr__(self) -> str:
        return f"Resources({self.scalars!r}, {self.ranges!r})"


def _identity_json(
    key: str, resource: dict[str, Any], role: str, refinement: bool
) -> dict[str, Any]:
    out: dict[str, Any]
    if _SEP not in key:  # Unreserved, no volume: the common case, kept fast.
        out = {"name": key, **resource}
        if not refinement:
            out["role"] = "*"
        out["allocation_info"] = {"role": role}
        return out
    name, reservations, disk = split_key(key)
    out = {"name": name, **resource}
    if refinement:
        if reservations:
            out["reservations"] = reservations
    elif reservations:
        last = reservations[-1]
        out["role"] = last["role"]
        if last["type"] == "DYNAMIC":
            out["reservation"] = {k: last[k] for k in ("principal", "labels") if k in last}
    else:
        out["role"] = "*"
    if disk is not None:
        out["disk"] = disk
    out["allocation_info"] = {"role": role}
    return out


def mesos_text(resources: Resources, role: str | None) -> str:
    """Resources as Mesos prints them (``operator<<``), allocated to ``role`` if given:
    ``cpus(allocated: db)(reservations: [(DYNAMIC,db)]):0.5; disk(...)[v1:data]:64``."""

    def head(key: str) -> str:
        name, reservations, disk = split_key(key)
        text = name if role is None else f"{name}(allocated: {role})"
        if reservations:
            shown = ",".join(
                "("
                + ",".join([r["type"], r["role"], *([r["principal"]] if "principal" in r else [])])
                + ")"
                for r in reservations
            )
            text += f"(reservations: [{shown}])"
        if disk is not None:
            persistence = (disk.get("persistence") or {}).get("id", "")
            volume = disk.get("volume") or {}
            path = f":{volume.get('container_path', '')}:{str(volume.get('mode', 'RW')).lower()}"
            text += f"[{persistence}{path if volume else ''}]"
        return text

    parts = [
        f"{head(key)}:" + f"{value:.3f}".rstrip("0").rstrip(".")
        for key, value in resources.scalars.items()
    ]
    parts += [
        f"{head(key)}:[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"
        for key, ranges in resources.ranges.items()
    ]
    return "; ".join(parts) if parts else "{}"
