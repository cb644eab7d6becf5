"""Agent and task resources: scalars (cpus, mem, disk, gpus) and port ranges.

Converted from and to the v1 JSON ``Resource`` list. Roles are ignored in
arithmetic: every simulated agent's resources are unreserved (``*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["ResourceError", "Resources"]

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
                if kind == "SCALAR":
                    value = float(r["scalar"]["value"])
                    if value < 0 or value != value:
                        raise ResourceError(f"negative or NaN scalar resource {name}")
                    scalars[name] = scalars.get(name, 0.0) + value
                elif kind == "RANGES":
                    for rg in r["ranges"]["range"]:
                        begin, end = int(rg["begin"]), int(rg["end"])
                        if begin > end:
                            raise ResourceError(f"bad range {begin}-{end} in {name}")
                        ranges.setdefault(name, []).append((begin, end))
                else:
                    raise ResourceError(f"unsupported resource type {kind!r} for {name}")
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                if isinstance(exc, ResourceError):
                    raise
                raise ResourceError(f"malformed resource {name}: {exc!r}") from None
        return cls(scalars, ranges)

    def to_json(self, role: str = "*") -> list[dict[str, Any]]:
        """The v1 JSON ``Resource`` list, allocated to ``role``."""
        out: list[dict[str, Any]] = []
        for name, value in self.scalars.items():
            out.append(
                {
                    "name": name,
                    "type": "SCALAR",
                    "scalar": {"value": round(value, 6)},
                    "role": "*",
                    "allocation_info": {"role": role},
                }
            )
        for name, rs in self.ranges.items():
            out.append(
                {
                    "name": name,
                    "type": "RANGES",
                    "ranges": {"range": [{"begin": b, "end": e} for b, e in rs]},
                    "role": "*",
                    "allocation_info": {"role": role},
                }
            )
        return out

    def to_state(self) -> dict[str, Any]:
        """The flat shape of ``/master/state``: ``{"cpus": 1.0, "ports": "[31000-32000]"}``."""
        out: dict[str, Any] = {k: 0.0 for k in ("cpus", "mem", "disk", "gpus")}
        out.update(self.scalars)
        for name, rs in self.ranges.items():
            out[name] = "[" + ", ".join(f"{b}-{e}" for b, e in rs) + "]"
        return out

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
