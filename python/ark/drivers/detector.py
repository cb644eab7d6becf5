"""Finding the leading Mesos master: a fixed address, or ZooKeeper as masters register there.

Masters write ephemeral sequential znodes ``<path>/json.info_<seq>`` holding
their ``MasterInfo`` as JSON; the lowest sequence leads (Mesos's
``ZooKeeperMasterDetector``). A fixed address may be a standby: the driver
then follows its 307 to the leader.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from ark.errors import DetectorError
from ark.extras import require

__all__ = ["ZNODE_PREFIX", "DetectorError", "MasterDetector", "parse_address", "parse_zk_url"]

log = logging.getLogger(__name__)

#: The name before the sequence number of each master's znode.
ZNODE_PREFIX = "json.info_"
_ZK_TIMEOUT = 10.0


def parse_address(text: str) -> tuple[str, int]:
    """``host:port``, ``http://host:port`` or ``//host:port/path`` to ``(host, port)``."""
    if "//" not in text:
        text = f"//{text}"
    parts = urlsplit(text)
    if not parts.hostname or parts.port is None:
        raise DetectorError(f"not a master address (host:port): {text!r}")
    return parts.hostname, parts.port


def parse_zk_url(url: str) -> tuple[str, str]:
    """``zk://host:port[,host:port]/path`` to ``(hosts, "/path")``; both parts are required."""
    hosts, slash, path = url.removeprefix("zk://").partition("/")
    if not url.startswith("zk://") or not hosts or not slash or not path.strip("/"):
        raise DetectorError(f"expected zk://host:port[,host:port]/path, got {url!r}")
    return hosts, "/" + path.strip("/")


class MasterDetector:
    """Where the leading master is, as far as can be told now.

    Parameters
    ----------
    master
        ``host:port``, ``http://host:port``, or ``zk://host:port[,host:port]/path``.
    """

    def __init__(self, master: str) -> None:
        self._fixed: tuple[str, int] | None = None
        self._zk: Any = None
        self._lock = threading.Lock()
        if master.startswith("zk://"):
            self._hosts, self._path = parse_zk_url(master)
            # kazoo ships no type information; it is only needed for zk:// masters.
            self._kazoo = require("kazoo.client", f"the master {master!r}")
        else:
            self._fixed = parse_address(master)

    def leader(self) -> tuple[str, int] | None:
        """The leader's address; ``None`` while no master is elected (or ZooKeeper is away)."""
        if self._fixed is not None:
            return self._fixed
        try:
            return self._zk_leader()
        except DetectorError:
            raise
        except Exception as exc:  # kazoo raises many kinds; all mean "not now"
            log.warning("ark: no master from ZooKeeper %s%s: %r", self._hosts, self._path, exc)
            return None

    def close(self) -> None:
        """Close the ZooKeeper session, if any."""
        with self._lock:
            zk, self._zk = self._zk, None
        if zk is not None:
            zk.stop()
            zk.close()

    def _client(self) -> Any:
        with self._lock:
            if self._zk is None:
                zk = self._kazoo.KazooClient(hosts=self._hosts, timeout=_ZK_TIMEOUT, read_only=True)
                zk.start(_ZK_TIMEOUT)
                self._zk = zk
            return self._zk

    def _zk_leader(self) -> tuple[str, int] | None:
        zk = self._client()
        children = [c for c in zk.get_children(self._path) if c.startswith(ZNODE_PREFIX)]
        if not children:
            return None
        lowest = min(children, key=lambda c: int(c[len(ZNODE_PREFIX) :]))
        data, _ = zk.get(f"{self._path}/{lowest}")
        try:
            info = json.loads(data)
            address = info.get("address") or {}
            host = address.get("ip") or address.get("hostname") or info["hostname"]
            port = int(address.get("port") or info["port"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DetectorError(f"{self._path}/{lowest} is not a MasterInfo: {exc!r}") from None
        return str(host), port
