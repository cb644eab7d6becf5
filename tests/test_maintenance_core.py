"""Maintenance in the core: inverse offers lifted from the wire, kept in the
state, answered by command or by the drain policy (docs/reducer.md,
Maintenance). Each case runs against the reference and the Rust core;
expected values are worked out from the specification."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec
import pytest

import ark.core
import ark.reference
from ark import _core
from ark import effects as fx
from ark import messages as m
from ark.errors import CommandRejected, MessageError
from ark.matching import TaskRequest, match_offers
from ark.reference import events as ref
from ark.reference import reference_match
from ark.state import Config, InverseOfferRecord
from ark.state_manager import StateManager, apply_hook, hooked_types

IMPLEMENTATIONS = {"reference": ark.reference.Reducer, "rust": ark.core.Reducer}
Reducer: Any = ark.reference.Reducer
HOUR = 3600.0
DRAIN = Config(maintenance="drain", maintenance_margin_seconds=60.0, offer_refuse_seconds=5.0)


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(sys.modules[__name__], "Reducer", IMPLEMENTATIONS[request.param])
    name: str = request.param
    return name


def window(start: float, duration: float | None = HOUR) -> m.Unavailability:
    return m.Unavailability(start, duration)


def running(config: Config | None = None) -> Any:
    """Subscribed, reconciled, with t1 running on a1 and t2 on a2."""
    r = Reducer(config)
    r.step(m.Subscribed("fw"), 0.0)
    offers = [m.Offer(f"o{i}", f"a{i}", f"h{i}", [m.Resource("cpus", scalar=4.0)]) for i in (1, 2)]
    r.step(m.Offers(offers), 1.0)
    for i in (1, 2):
        launch = m.Launch(f"t{i}", resources=[m.Resource("cpus", scalar=1.0)])
        r.step(m.Accept([f"o{i}"], [launch]), 2.0)
        r.step(m.Update(m.TaskStatus(f"t{i}", "TASK_RUNNING", agent_id=f"a{i}")), 3.0)
    return r


# --- the lifts ---------------------------------------------------------------------


INVERSE_EVENT = {
    "type": "INVERSE_OFFERS",
    "inverse_offers": {
        "inverse_offers": [
            {
                "id": {"value": "i1"},
                "framework_id": {"value": "fw"},
                "agent_id": {"value": "a1"},
                "url": {"scheme": "http", "address": {"ip": "127.0.0.1", "port": 5051}},
                "unavailability": {
                    "start": {"nanoseconds": 1_700_000_000_500_000_000},
                    "duration": {"nanoseconds": 3_600_000_000_000},
                },
            }
        ]
    },
}
EXPECTED = m.InverseOffers([m.InverseOffer("i1", "a1", window(1_700_000_000.5))])


def test_inverse_offers_lift_alike_on_every_road() -> None:
    data = json.dumps(INVERSE_EVENT).encode()
    lifted = _core.decode_event(data, "json")
    assert lifted is not None and lifted[0] == "InverseOffers"
    assert m.decode(lifted[1]) == EXPECTED
    assert ref.event_from_json(INVERSE_EVENT) == EXPECTED
    proto = ref.encode_event(EXPECTED)
    assert ref.event_from_protobuf(proto) == EXPECTED
    lifted = _core.decode_event(proto)
    assert lifted is not None and m.decode(lifted[1]) == EXPECTED


def test_an_offer_carries_its_agents_window() -> None:
    event = {
        "type": "OFFERS",
        "offers": {
            "offers": [
                {
                    "id": {"value": "o1"},
                    "framework_id": {"value": "fw"},
                    "agent_id": {"value": "a1"},
                    "hostname": "h1",
                    "unavailability": {"start": {"nanoseconds": 2_000_000_000}},
                }
            ]
        },
    }
    expected = m.Offers([m.Offer("o1", "a1", "h1", unavailability=window(2.0, None))])
    lifted = _core.decode_event(json.dumps(event).encode(), "json")
    assert lifted is not None and m.decode(lifted[1]) == expected
    assert ref.event_from_json(event) == expected


@pytest.mark.parametrize(
    "event",
    [
        {"type": "INVERSE_OFFERS", "inverse_offers": {"inverse_offers": [{"id": {"value": "i"}}]}},
        {"type": "RESCIND_INVERSE_OFFER", "rescind_inverse_offer": {}},
    ],
    ids=["no agent", "no id"],
)
def test_a_damaged_inverse_offer_event_is_an_error_on_both_roads(event: dict[str, Any]) -> None:
    with pytest.raises(MessageError):
        _core.decode_event(json.dumps(event).encode(), "json")
    with pytest.raises(ValueError):
        ref.event_from_json(event)


def test_a_rescind_lifts_to_its_message() -> None:
    event = {
        "type": "RESCIND_INVERSE_OFFER",
        "rescind_inverse_offer": {"inverse_offer_id": {"value": "i1"}},
    }
    lifted = _core.decode_event(json.dumps(event).encode(), "json")
    assert lifted is not None and m.decode(lifted[1]) == m.RescindInverseOffer("i1")
    assert ref.event_from_json(event) == m.RescindInverseOffer("i1")


# --- the state and the commands ------------------------------------------------------


def test_by_default_inverse_offers_wait_for_an_answer(implementation: str) -> None:
    r = running()
    assert r.step(m.InverseOffers([m.InverseOffer("i2", "a1", window(10.0))]), 4.0) == []
    assert r.step(m.InverseOffers([m.InverseOffer("i1", "a2", window(10.0))]), 5.0) == []
    assert r.step(m.Tick(), 50.0) == []
    assert r.view().inverse_offers == [
        InverseOfferRecord("i1", "a2", window(10.0), 5.0, False),
        InverseOfferRecord("i2", "a1", window(10.0), 4.0, False),
    ]
    for bad in ([], ["i1", "i1"], ["i1", "i9"]):
        with pytest.raises(CommandRejected):
            r.step(m.DeclineInverseOffers(bad), 51.0)
    assert len(r.view().inverse_offers) == 2
    assert r.step(m.DeclineInverseOffers(["i2", "i1"], 600.0), 52.0) == [
        fx.DeclineInverseOffers(["i1", "i2"], 600.0)
    ]
    assert r.view().inverse_offers == []


def test_a_rescind_and_a_disconnection_void_them(implementation: str) -> None:
    r = running()
    r.step(m.InverseOffers([m.InverseOffer(i, "a1", window(10.0)) for i in ("i1", "i2")]), 4.0)
    r.step(m.RescindInverseOffer("i1"), 5.0)
    r.step(m.RescindInverseOffer("nope"), 5.0)
    assert [i.inverse_offer_id for i in r.view().inverse_offers] == ["i2"]
    r.step(m.Disconnected(), 6.0)
    assert r.view().inverse_offers == []


def test_a_bad_maintenance_policy_is_refused(implementation: str) -> None:
    with pytest.raises(MessageError):
        Reducer(Config(maintenance="evict"))  # type: ignore[arg-type]


def test_drain_kills_before_the_window_and_accepts_once_empty(implementation: str) -> None:
    r = running(DRAIN)
    start = 2 * HOUR
    assert r.step(m.InverseOffers([m.InverseOffer("i1", "a1", window(start))]), 4.0) == []
    assert r.step(m.Tick(), start - 61.0) == []
    assert r.step(m.Tick(), start - 60.0) == [fx.Kill("t1", "a1")]
    assert r.view().inverse_offers[0].draining
    assert r.step(m.Tick(), start - 30.0) == []
    killed = m.Update(m.TaskStatus("t1", "TASK_KILLED", agent_id="a1"))
    assert r.step(killed, start - 20.0) == [fx.AcceptInverseOffers(["i1"], 5.0)]
    assert r.view().inverse_offers == []
    # t2's agent is not under maintenance: it runs on.
    assert r.view().tasks[1].state == "TASK_RUNNING"


def test_drain_gives_an_empty_agent_back_at_once(implementation: str) -> None:
    r = running(DRAIN)
    inverse = m.InverseOffers([m.InverseOffer("i1", "a3", window(10 * HOUR))])
    assert r.step(inverse, 4.0) == [fx.AcceptInverseOffers(["i1"], 5.0)]


def test_drain_keeps_new_tasks_off_the_agent_until_the_window_ends(implementation: str) -> None:
    r = running(DRAIN)
    r.step(m.Request([m.TaskRequest("r1", resources=[m.Resource("cpus", scalar=1.0)])]), 10.0)
    draining = m.Offer(
        "o3", "a3", "h3", [m.Resource("cpus", scalar=4.0)], unavailability=window(100.0)
    )
    # 60 s before the window: within the margin, so declined.
    out = r.step(m.Offers([draining]), 40.0)
    assert out == [fx.Decline(["o3"], 5.0)]
    assert r.view().demand[0].reason == "agent blacklisted on 1 agent"
    out = r.step(m.Offers([msgspec.structs.replace(draining, id="o4")]), 100.0 + HOUR)
    assert [type(e) for e in out] == [fx.Accept, fx.Suppress]
    assert isinstance(out[0], fx.Accept) and out[0].agent_id == "a3"


# --- the hook ------------------------------------------------------------------------


class Answering(StateManager[int]):
    def inverse_offers(
        self, state: int, inverse_offers: Any, framework: Any
    ) -> tuple[int, list[Any]]:
        ids = [i.id for i in inverse_offers if i.unavailability.duration is not None]
        return state + 1, [m.DeclineInverseOffers(ids, 3600.0)]


def test_a_hook_sees_inverse_offers_and_answers_them() -> None:
    manager = Answering()
    assert m.InverseOffers in hooked_types(manager)
    state, commands = apply_hook(manager, 0, EXPECTED, None)  # type: ignore[arg-type]
    assert (state, commands) == (1, [m.DeclineInverseOffers(["i1"], 3600.0)])


def test_match_offers_reads_an_offer_with_an_unavailability_and_places_on_it() -> None:
    # The standalone matcher has no drain policy: both matchers place alike.
    offer = m.Offer(
        "o1", "a1", "h1", [m.Resource("cpus", scalar=1.0)], unavailability=m.Unavailability(5.0)
    )
    request = TaskRequest("t1", [m.Resource("cpus", scalar=1.0)])
    rust = match_offers([offer], [request])
    assert [p.offer_ids for p in rust.accepts] == [["o1"]]
    assert rust == reference_match([offer], [request])
