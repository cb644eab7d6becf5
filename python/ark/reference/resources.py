"""Resource arithmetic in plain Python: whether launches fit in the offers they use.

The reference twin of ``rust/src/resources.rs``, as ``docs/reducer.md``
specifies an Accept's check.
"""

from __future__ import annotations

from ark import messages as m
from ark.errors import CommandRejected

__all__ = ["check_fits"]

#: Scalar sums may exceed what the offers hold by less than this (float rounding).
_EPSILON = 1e-9


def check_fits(offers: list[m.Offer], launches: list[m.Launch]) -> None:
    """Raise :class:`CommandRejected` unless the launches fit in the offers' resources."""
    have_scalar: dict[tuple[str, str], float] = {}
    have_ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
    have_set: dict[tuple[str, str], set[str]] = {}
    # Spec reading: sums run in the order the offers are named, each offer's
    # resources in their order (float addition is not associative).
    for offer in offers:
        for r in offer.resources:
            key = (r.name, r.role)
            if r.scalar is not None:
                have_scalar[key] = have_scalar.get(key, 0.0) + r.scalar
            if r.ranges is not None:
                have_ranges.setdefault(key, []).extend(r.ranges)
            if r.set is not None:
                # Spec reading: an offered set is a set; an item offered by two
                # offers can still be used once only.
                have_set.setdefault(key, set()).update(r.set)

    need_scalar: dict[tuple[str, str], float] = {}
    used_ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
    used_set: dict[tuple[str, str], set[str]] = {}
    for launch in launches:
        # A pod's members take their share with its executor's.
        for r in [*launch.resources, *(r for t in launch.pod for r in t.resources)]:
            key = (r.name, r.role)
            if r.scalar is not None:
                if r.scalar < 0:
                    raise CommandRejected(
                        f"task {launch.task_id!r}: negative {r.name} ({r.scalar})"
                    )
                need_scalar[key] = need_scalar.get(key, 0.0) + r.scalar
            if r.ranges is not None:
                offered = have_ranges.get(key, [])
                taken = used_ranges.setdefault(key, [])
                for lo, hi in r.ranges:
                    if lo > hi:
                        raise CommandRejected(
                            f"task {launch.task_id!r}: empty range [{lo}, {hi}] of {r.name}"
                        )
                    # Spec reading: inside ONE offered range; adjacent offered
                    # ranges are not merged.
                    if not any(olo <= lo and hi <= ohi for olo, ohi in offered):
                        raise CommandRejected(
                            f"task {launch.task_id!r}: {r.name} [{lo}, {hi}] is not offered"
                        )
                    if any(lo <= thi and tlo <= hi for tlo, thi in taken):
                        raise CommandRejected(
                            f"task {launch.task_id!r}: {r.name} [{lo}, {hi}] is used twice"
                        )
                    taken.append((lo, hi))
            if r.set is not None:
                offered_items = have_set.get(key, set())
                taken_items = used_set.setdefault(key, set())
                for item in r.set:
                    if item not in offered_items:
                        raise CommandRejected(
                            f"task {launch.task_id!r}: {r.name} item {item!r} is not offered"
                        )
                    if item in taken_items:
                        raise CommandRejected(
                            f"task {launch.task_id!r}: {r.name} item {item!r} is used twice"
                        )
                    taken_items.add(item)
        names: set[str] = set()
        for name, port in launch.named_ports:
            if name in names:
                raise CommandRejected(f"task {launch.task_id!r} names port {name!r} twice")
            names.add(name)
            own = [rg for r in launch.resources if r.name == "ports" for rg in r.ranges or []]
            if not any(lo <= port <= hi for lo, hi in own):
                raise CommandRejected(
                    f"task {launch.task_id!r} names port {name!r} = {port}, not one of its ports"
                )

    # Spec reading: "for each resource (name, role)" quantifies over every
    # name and role the offers or the launches mention, an absent sum being 0;
    # so an offered negative scalar rejects even launches that do not use it.
    # "A difference under 1e-9 is allowed" is taken literally: rejected when
    # need - have >= 1e-9.
    for key in have_scalar.keys() | need_scalar.keys():
        need = need_scalar.get(key, 0.0)
        have = have_scalar.get(key, 0.0)
        if need - have >= _EPSILON:
            name, role = key
            raise CommandRejected(f"launches need {need} {name} (role {role}), offers hold {have}")
