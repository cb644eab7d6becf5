"""FrameworkInfo on subscription and re-subscription: roles, the failover
timeout and the fields a framework cannot change, judged on the simulator and
on a real Mesos.

A refused SUBSCRIBE is a 200 stream with one ERROR event, then its end
(``Master::subscribe``'s ``refuseSubscription``).
"""

from __future__ import annotations

from typing import Any

import pytest
from masters import Master
from sim_client import Subscriber

from waiting import wait_until

MULTI_ROLE = [{"type": "MULTI_ROLE"}]


def refusal(master: Master, info: dict[str, Any], framework_id: str | None = None) -> str:
    """The ERROR a SUBSCRIBE with ``info`` gets; fails if it is subscribed instead."""
    sub = Subscriber(master.url, dict({"user": "u", "name": "refused"}, **info), framework_id)
    try:
        assert sub.status == 200
        wait_until(lambda: sub.events, what="an event")
        first = sub.events[0]
        assert first["type"] == "ERROR", first
        wait_until(lambda: sub.closed, what="the refused stream's end")
        message: str = first["error"]["message"]
        return message
    finally:
        sub.close()


@pytest.mark.parametrize("role", ["eng/web", "eng/web/api", "a.b", "*"])
def test_hierarchical_roles_are_valid(master: Master, role: str) -> None:
    """``roles::validate`` (src/common/roles.cpp) accepts a path of valid components."""
    sub = Subscriber(master.url, {"user": "u", "name": "hierarchical", "role": role})
    try:
        sub.wait_event("SUBSCRIBED")
        sub.wait_offer()
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("role", "why"),
    [
        ("/a", "Role '/a' cannot start with a slash"),
        ("a/", "Role 'a/' cannot end with a slash"),
        ("a//b", "Role 'a//b' cannot contain two adjacent slashes"),
        ("a/./b", "Role 'a/./b' cannot include '.' as a component"),
        ("..", "Role '..' cannot include '..' as a component"),
        ("a/*", "Role 'a/*' cannot include '*' as a component"),
        ("-bad", "Role component '-bad' is invalid because it starts with a dash"),
        ("a/-b", "Role component '-b' is invalid because it starts with a dash"),
        ("a b", "Role component 'a b' is invalid because it contains backspace or whitespace"),
        ("", "Role names cannot be the empty string"),
    ],
)
def test_invalid_roles_are_refused(master: Master, role: str, why: str) -> None:
    """``roles::validate``, as ``validation::framework::internal::validateRoles`` quotes it."""
    assert refusal(master, {"role": role}) == f"'FrameworkInfo.role' is not a valid role: {why}"


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (
            {"roles": ["x"]},
            "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable",
        ),
        (
            {"role": "x", "capabilities": MULTI_ROLE},
            "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable",
        ),
        (
            {"roles": ["x", "x"], "capabilities": MULTI_ROLE},
            "'FrameworkInfo.roles' contains duplicate items: { x }",
        ),
        (
            {"roles": ["ok", "a/-b"], "capabilities": MULTI_ROLE},
            "'FrameworkInfo.roles' contains invalid role: "
            "Role component '-b' is invalid because it starts with a dash",
        ),
    ],
)
def test_role_fields_must_match_multi_role(
    master: Master, info: dict[str, Any], message: str
) -> None:
    """``validateRoles``: ``role`` without MULTI_ROLE, ``roles`` with it, no duplicates."""
    assert refusal(master, info) == message


def test_multi_role_framework_subscribes_with_hierarchical_roles(master: Master) -> None:
    """A MULTI_ROLE framework is offered resources allocated to one of its roles."""
    info = {"user": "u", "name": "multi", "roles": ["eng/web", "ops"], "capabilities": MULTI_ROLE}
    sub = Subscriber(master.url, info)
    try:
        offer = sub.wait_offer()
        assert offer["allocation_info"]["role"] in ("eng/web", "ops")
    finally:
        sub.close()


@pytest.mark.parametrize(("timeout", "text"), [(1e10, "1e+10"), (-1e10, "-1e+10")])
def test_a_failover_timeout_beyond_a_duration_is_refused(
    master: Master, timeout: float, text: str
) -> None:
    """``validateFailoverTimeout``: it must fit a ``Duration`` (int64 nanoseconds)."""
    message = refusal(master, {"failover_timeout": timeout})
    assert message == f"The framework failover_timeout ({text}) is invalid"


def subscribed(master: Master, info: dict[str, Any], framework_id: str | None = None) -> str:
    """Subscribe, wait for SUBSCRIBED, disconnect; return the framework id."""
    sub = Subscriber(master.url, info, framework_id)
    try:
        return sub.framework_id
    finally:
        sub.close()


def test_a_resubscription_cannot_change_the_principal(master: Master) -> None:
    """``validation::framework::validateUpdate``."""
    info = {"user": "u", "name": "n", "principal": "first", "failover_timeout": 60}
    framework_id = subscribed(master, info)
    message = refusal(master, dict(info, principal="second"), framework_id)
    assert message == "Changing framework's principal is not allowed."
    # Leaving it out is a change too; the same principal is welcome back.
    without = {k: v for k, v in info.items() if k != "principal"}
    assert refusal(master, without, framework_id) == message
    assert subscribed(master, info, framework_id) == framework_id


def test_a_resubscription_keeps_user_and_checkpoint(master: Master) -> None:
    """``validation::framework::preserveImmutableFields`` (MESOS-703): silently kept."""
    info = {"user": "first", "name": "before", "checkpoint": True, "failover_timeout": 60}
    framework_id = subscribed(master, info)
    changed = dict(info, user="second", name="after", checkpoint=False)
    sub = Subscriber(master.url, changed, framework_id)
    try:
        sub.wait_event("SUBSCRIBED")
        state = next(f for f in master.state()["frameworks"] if f["id"] == framework_id)
        assert (state["user"], state["checkpoint"], state["name"]) == ("first", True, "after")
    finally:
        sub.close()


def test_offers_show_allocation_info_only_to_multi_role_frameworks(master: Master) -> None:
    """``Master::offer`` (MESOS-8237): a framework without MULTI_ROLE gets offers and
    resources without ``allocation_info``; a MULTI_ROLE one gets both, with its role."""
    plain = Subscriber(master.url, {"user": "test", "name": "plain"})
    try:
        offer = plain.wait_offer()
    finally:
        plain.close()  # Its offers go back to the allocator.
    assert "allocation_info" not in offer
    assert all("allocation_info" not in r for r in offer["resources"])
    info = {"user": "test", "name": "multi", "roles": ["web"]}
    multi = Subscriber(master.url, {**info, "capabilities": [{"type": "MULTI_ROLE"}]})
    try:
        offer = multi.wait_offer()
    finally:
        multi.close()
    assert offer["allocation_info"] == {"role": "web"}
    assert all(r["allocation_info"] == {"role": "web"} for r in offer["resources"])
