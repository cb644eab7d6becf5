"""A bridge for users of pymesos: its ``MesosSchedulerDriver`` under Ark's scheduler.

pymesos runs every callback on its one IO thread, and an exception there
kills that thread; so each callback here only lifts the event into an Ark
message and pushes it into the inbox, and never raises. Offers and status
updates, which pymesos hands over as Mesos's JSON objects, are lifted by the
same Rust code as the native driver's JSON events (``ark._core.decode_event``). Effects are sent
through pymesos's driver from a sender thread of our own (its calls block
on the network), with implicit acknowledgements off: Ark acknowledges each
update once, after its state is recorded.

pymesos is an optional extra (``pip install ark-mesos[pymesos]``); on Python
3.11+ its ``http-parser`` dependency needs the pure-Python build that
``.ci/install-pymesos.sh`` makes.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from ark import _core, wire
from ark import effects as fx
from ark import messages as m
from ark._core import Inbox
from ark.drivers.framework_info import framework_info, update_framework_call, updated
from ark.errors import ArkError
from ark.extras import require

__all__ = ["PymesosDriver"]

log = logging.getLogger(__name__)


class PymesosDriver:
    """The :class:`ark.Driver` protocol over ``pymesos.MesosSchedulerDriver``.

    Parameters
    ----------
    master
        ``host:port`` or ``zk://host:port/path``, as pymesos takes it.
    framework
        ``FrameworkInfo`` fields; ``failover_timeout`` defaults to a week
        (pymesos would silently make an omitted one 100 s).
    principal, secret
        HTTP basic authentication, when the master requires it.
    """

    def __init__(
        self,
        master: str,
        framework: Mapping[str, Any],
        *,
        principal: str | None = None,
        secret: str | None = None,
    ) -> None:
        # pymesos ships no type information.
        self._pymesos = require("pymesos", "ark.drivers.PymesosDriver")
        info = framework_info(framework)
        self._master = master.removeprefix("http://")
        self._info = info
        self._auth = (principal, secret)
        self._driver: Any = None
        self._calls: queue.SimpleQueue[fx.Effect | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None

    @property
    def framework_id(self) -> str | None:
        """The framework id, once subscribed."""
        return None if self._driver is None else self._driver.framework_id

    #: pymesos sends every call itself: effects come through :meth:`run`.
    calls = None

    def start(self, inbox: Inbox, framework_id: str | None = None) -> None:
        """Start pymesos's driver (as ``framework_id`` if given); callbacks push into ``inbox``."""
        if framework_id is not None:
            self._info["id"] = {"value": framework_id}
        principal, secret = self._auth
        self._driver = self._pymesos.MesosSchedulerDriver(
            _Callbacks(inbox.push),
            self._info,
            self._master,
            use_addict=False,
            implicit_acknowledgements=False,
            principal=principal,
            secret=secret,
        )
        self._sender = threading.Thread(target=self._send_loop, name="ark-pymesos-calls")
        self._sender.daemon = True
        self._sender.start()
        self._driver.start()

    def run(self, effects: Sequence[fx.Effect]) -> None:
        """Queue ``effects`` for the sender thread; never blocks."""
        for effect in effects:
            self._calls.put(effect)

    def stop(self, failover: bool) -> None:
        """Stop pymesos's driver; without ``failover`` it sends TEARDOWN first."""
        self._calls.put(None)
        if self._sender is not None:
            self._sender.join(10)
        if self._driver is not None:
            detector = self._driver.detector
            self._driver.stop(failover=failover)
            self._driver.join()
            # pymesos stops its ZooKeeper client but never closes it, and keeps
            # its calls connection open after a failover stop: both leak sockets.
            if detector is not None:
                detector.zk.close()
            self._driver._close()

    def _send_loop(self) -> None:
        while (effect := self._calls.get()) is not None:
            try:
                self._send(effect)
            except Exception as exc:  # pymesos raises RuntimeError for any non-2xx
                log.warning("ark: %s not sent through pymesos: %s", type(effect).__name__, exc)

    def _send(self, effect: fx.Effect) -> None:
        driver = self._driver
        framework_id = driver.framework_id
        if isinstance(effect, fx.UpdateFramework):
            # pymesos subscribes again with the very dict it was given.
            new = updated(self._info, effect)
            self._info.clear()
            self._info.update(new)
            if driver.connected and framework_id is not None:
                # ``driver.framework``: the info as pymesos subscribes with it.
                driver._send(update_framework_call(driver.framework, framework_id, effect))
            return
        if not driver.connected or framework_id is None:
            log.warning("ark: %s dropped: pymesos is not connected", type(effect).__name__)
            return
        try:
            call = wire.call(effect, framework_id)
        except (ArkError, ValueError) as exc:
            log.error("ark: %s not sent: %s", type(effect).__name__, exc)
            return
        body = call.get(call["type"].lower(), {})
        match effect:
            case fx.Accept():
                driver.acceptOffers(body["offer_ids"], body["operations"], body["filters"])
            case fx.Decline():
                driver.declineOffer(body["offer_ids"], body["filters"])
            case fx.Acknowledge():
                driver.acknowledgeStatusUpdate(body)
            case fx.Kill():
                driver.killTask(body["task_id"])
            case fx.Revive():
                driver.reviveOffers()
            case fx.Suppress():
                driver.suppressOffers()
            case fx.Message():
                driver.sendFrameworkMessage(body["executor_id"], body["agent_id"], body["data"])
            case fx.Reconcile():
                # pymesos's reconcileTasks drops agent_id, and without it a master
                # can only answer TASK_LOST/UNKNOWN: send Ark's own call instead.
                driver._send(call)
            case fx.AcceptInverseOffers():
                driver.acceptInverseOffers(body["inverse_offer_ids"], body["filters"])
            case fx.DeclineInverseOffers():
                driver.declineInverseOffer(body["inverse_offer_ids"], body["filters"])


class _Callbacks:
    """pymesos's ``Scheduler`` interface: lift, push, never raise."""

    def __init__(self, push: Callable[[bytes], None]) -> None:
        self._push = push

    def _emit(self, name: str, lift: Callable[[], m.Message]) -> None:
        try:
            self._push(m.encode(lift()))
        except Exception:
            log.exception("ark: pymesos callback %s dropped its event", name)

    def _emit_event(self, name: str, event: dict[str, Any]) -> None:
        """Lift a v1 JSON ``Event`` in Rust, as the native driver does, and push it."""
        try:
            lifted = _core.decode_event(msgspec.json.encode(event), "json")
            if lifted is not None:
                self._push(lifted[1])
        except Exception:
            log.exception("ark: pymesos callback %s dropped its event", name)

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self._emit("registered", lambda: m.Subscribed(framework_id["value"]))

    def reregistered(self, driver: Any, master_info: Any) -> None:
        self._emit("reregistered", lambda: m.Reregistered())

    def disconnected(self, driver: Any) -> None:
        self._emit("disconnected", lambda: m.Disconnected())

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        self._emit_event("resourceOffers", {"type": "OFFERS", "offers": {"offers": offers}})

    def offerRescinded(self, driver: Any, offer_id: Any) -> None:
        self._emit("offerRescinded", lambda: m.Rescind(offer_id["value"]))

    def statusUpdate(self, driver: Any, status: Any) -> None:
        self._emit_event("statusUpdate", {"type": "UPDATE", "update": {"status": status}})

    def frameworkMessage(self, driver: Any, executor_id: Any, agent_id: Any, data: str) -> None:
        self._emit(
            "frameworkMessage",
            lambda: m.FrameworkMessage(
                agent_id["value"], executor_id["value"], base64.b64decode(data)
            ),
        )

    def slaveLost(self, driver: Any, agent_id: Any) -> None:
        self._emit("slaveLost", lambda: m.Failure(agent_id["value"]))

    def executorLost(self, driver: Any, executor_id: Any, agent_id: Any, status: Any) -> None:
        self._emit(
            "executorLost",
            lambda: m.Failure(agent_id["value"], executor_id=executor_id["value"], status=status),
        )

    def inverseOffers(self, driver: Any, inverse_offers: list[Any]) -> None:
        event = {"type": "INVERSE_OFFERS", "inverse_offers": {"inverse_offers": inverse_offers}}
        self._emit_event("inverseOffers", event)

    def inverseOfferRescinded(self, driver: Any, inverse_offer_id: Any) -> None:
        self._emit(
            "inverseOfferRescinded", lambda: m.RescindInverseOffer(inverse_offer_id["value"])
        )

    def error(self, driver: Any, message: str) -> None:
        self._emit("error", lambda: m.Error(str(message)))

    def processHeartBeat(self, driver: Any) -> None:
        self._emit("heartbeat", lambda: m.Heartbeat())

    def __getattr__(self, name: str) -> Callable[..., None]:
        # Callbacks Ark does not model (operation status).
        return lambda *args: None
