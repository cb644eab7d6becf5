"""The ``FrameworkInfo`` both drivers subscribe with: the user's fields over Ark's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ark import effects as fx

__all__ = ["DEFAULT_CAPABILITIES", "ONE_WEEK", "framework_info", "update_framework_call", "updated"]

ONE_WEEK = 7 * 24 * 3600.0

#: Ark models TASK_UNREACHABLE, TASK_GONE, TASK_DROPPED ... (docs/reducer.md, Partitions).
DEFAULT_CAPABILITIES: tuple[dict[str, str], ...] = ({"type": "PARTITION_AWARE"},)


def framework_info(framework: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``framework`` with ``user``, ``name``, ``failover_timeout`` and
    ``capabilities`` defaulted.

    ``failover_timeout`` defaults to a week: Mesos's default, 0, would kill
    every task the moment the scheduler disconnects, and pymesos would
    silently make an omitted one 100 s. ``capabilities`` defaults to
    PARTITION_AWARE, so that Mesos says TASK_UNREACHABLE, TASK_GONE or
    TASK_DROPPED where it would say TASK_LOST; give your own list (``[]`` to
    subscribe without it) and it is taken as is, but that a framework with
    ``roles`` gets the MULTI_ROLE capability, without which Mesos refuses
    ``roles``.
    """
    info = dict(framework)
    info.setdefault("user", "root")
    info.setdefault("name", "ark")
    info.setdefault("failover_timeout", ONE_WEEK)
    info.setdefault("capabilities", [dict(c) for c in DEFAULT_CAPABILITIES])
    if "roles" in info:
        info["capabilities"] = _with_multi_role(info["capabilities"])
    return info


def updated(info: Mapping[str, Any], effect: fx.UpdateFramework) -> dict[str, Any]:
    """``info`` with the parts ``effect`` gives replaced."""
    out = dict(info)
    if effect.capabilities is not None:
        out["capabilities"] = [{"type": name} for name in effect.capabilities]
    if effect.roles is not None:
        out.pop("role", None)
        out["roles"] = list(effect.roles)
        out["capabilities"] = _with_multi_role(out.get("capabilities") or [])
    if effect.failover_timeout is not None:
        out["failover_timeout"] = effect.failover_timeout
    return out


def update_framework_call(
    info: Mapping[str, Any], framework_id: str, effect: fx.UpdateFramework
) -> dict[str, Any]:
    """The v1 UPDATE_FRAMEWORK call that makes ``info`` (already updated) the framework's.

    Mesos takes the whole FrameworkInfo and the whole list of suppressed
    roles: without ``effect.suppressed_roles``, all roles while the core has
    suppressed offers, none otherwise.
    """
    full = dict(info)
    full["id"] = {"value": framework_id}
    suppressed = effect.suppressed_roles
    if suppressed is None:
        suppressed = _roles(full) if effect.suppressed else []
    return {
        "framework_id": {"value": framework_id},
        "type": "UPDATE_FRAMEWORK",
        "update_framework": {"framework_info": full, "suppressed_roles": list(suppressed)},
    }


def _roles(info: Mapping[str, Any]) -> list[str]:
    roles = info.get("roles")
    if isinstance(roles, list) and roles:
        return [str(r) for r in roles]
    return [str(info.get("role", "*"))]


def _with_multi_role(capabilities: list[Any]) -> list[Any]:
    if any(isinstance(c, Mapping) and c.get("type") == "MULTI_ROLE" for c in capabilities):
        return list(capabilities)
    return [*capabilities, {"type": "MULTI_ROLE"}]
