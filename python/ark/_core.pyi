"""Types of the Rust extension; see ``rust/src/python.rs``."""

from collections.abc import Sequence
from typing import Literal, final

from ark.errors import ArkError

__all__ = ["Core", "Inbox", "Snapshot", "decode_event", "descriptor_set", "match_offers"]

@final
class Core:
    def __new__(cls, config: bytes | None = None) -> Core: ...
    def step(self, message: bytes, /, *, now: float) -> bytes:
        """Apply one message; msgpack list of its effects. GIL held."""
    def step_batch(
        self, messages: Sequence[bytes], /, *, now: float
    ) -> tuple[bytes, list[tuple[int, ArkError]]]:
        """Apply messages in order with the GIL released; effects and failures."""
    def snapshot(self) -> Snapshot: ...

@final
class Snapshot:
    @property
    def framework_id(self) -> str | None: ...
    @property
    def registered(self) -> bool: ...
    @property
    def suppressed(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    @property
    def reconciliation_phase(self) -> str: ...
    @property
    def reconciliation_round(self) -> int: ...
    @property
    def reconciliation_pending(self) -> int: ...
    @property
    def task_count(self) -> int: ...
    @property
    def offer_count(self) -> int: ...
    @property
    def agent_count(self) -> int: ...
    def view(self) -> bytes:
        """msgpack of ``ark.state.StateView``; GIL released."""
    def task(self, task_id: str) -> bytes | None: ...
    def tasks_by_state(self) -> dict[str, list[str]]: ...
    def tasks_on_agent(self, agent_id: str) -> list[str]: ...
    def settled(self, task_ids: list[str]) -> tuple[list[str], list[str]]:
        """Of task_ids, (reported by Mesos, terminal); unknown ids in neither."""

@final
class Inbox:
    def __new__(cls) -> Inbox: ...
    def push(self, message: bytes, /) -> None:
        """Append one encoded message; never blocks. Raises InboxClosed."""
    def drain(self, *, max_messages: int = 1024, timeout: float = 1.0) -> list[bytes]:
        """Up to max_messages, waiting up to timeout for the first (GIL released)."""
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __len__(self) -> int: ...

def match_offers(data: bytes, /) -> bytes:
    """One offer-matching cycle, msgpack in and out (see ark.matching). GIL released."""

def decode_event(
    data: bytes, /, encoding: Literal["protobuf", "json"] = "protobuf"
) -> tuple[str, bytes] | None:
    """A ``mesos.v1.scheduler.Event`` (its bytes in ``encoding``) lifted to its Ark message.

    The message's type name (``"Offers"``) and its msgpack; ``None`` for
    events Ark does not model. Raises MessageError. GIL released.
    """

def descriptor_set() -> bytes:
    """The serialized ``FileDescriptorSet`` of Ark's ``.proto`` files."""
