"""Types of the Rust extension; see ``rust/src/python.rs``."""

from collections.abc import Callable, Sequence
from typing import Any, Literal, final

from ark.errors import ArkError

__all__ = [
    "CallSender",
    "Core",
    "EventStream",
    "Inbox",
    "Snapshot",
    "decode_event",
    "descriptor_set",
    "encode_calls",
    "match_offers",
    "open_event_stream",
]

# (stop, effects msgpack, (tag, error) failures, (task_id, agent_id) launches held,
#  messages taken)
_Pumped = tuple[
    tuple[Literal["hooked"], bytes, list[str]] | tuple[Literal["custom"], Any, int] | None,
    bytes,
    list[tuple[str, ArkError]],
    list[tuple[str, str]],
    int,
]

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
    def pump(
        self,
        inbox: Inbox,
        calls: CallSender | None = None,
        *,
        hooked: set[str] | frozenset[str],
        hold_launches: bool = False,
        max_messages: int = 1024,
        timeout: float = 0.1,
    ) -> _Pumped:
        """Step what waits in the inbox until a message needs the scheduler; calls
        go to ``calls``. Raises InboxClosed once closed and empty. GIL released."""
    def step_routed(
        self, message: bytes, /, calls: CallSender | None = None, *, hold_launches: bool = False
    ) -> _Pumped:
        """Apply one message and route its effects as ``pump`` does. GIL held."""
    def release(self, calls: CallSender) -> None:
        """Send the calls held for launches now stored."""
    def discard(self) -> int:
        """Drop the held calls; how many."""
    def counters(self) -> dict[str, Any]:
        """Messages by tag, effects by type, offers, reconciliation, rejected."""
    def record(self, on: bool) -> None:
        """Start or stop appending every stepped message to the tape."""
    def take_recording(self) -> bytes:
        """The tape since the last call (see ``ark.recorder``)."""
    def note(self, data: bytes, /, *, now: float) -> None:
        """Append a scheduler's note to the tape, if recording."""

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
    def stored_deployments(self) -> list[tuple[str, bytes]]:
        """Each deployment as a msgpack ResumeDeployment, by group."""
    def stored_releases(self) -> list[tuple[str, bytes]]:
        """Each volume being given up as a msgpack ResumeRelease, by persistence id."""
    def requests(self, task_ids: list[str]) -> list[bytes | None]:
        """For each id, the msgpack TaskRequest its task was placed from, or None."""
    def settled(self, task_ids: list[str]) -> tuple[list[str], list[str]]:
        """Of task_ids, (reported by Mesos, terminal); unknown ids in neither."""

@final
class Inbox:
    def __new__(cls) -> Inbox: ...
    def push(self, message: bytes, /) -> None:
        """Append one encoded message; never blocks. Raises InboxClosed."""
    def push_custom(self, message: object, /, ask: int = 0) -> None:
        """Append a custom message as it is, with its ask id (0: none). Raises InboxClosed."""
    def drain(self, *, max_messages: int = 1024, timeout: float = 1.0) -> list[Any]:
        """Up to max_messages (bytes, or custom messages as pushed), waiting up to
        timeout for the first (GIL released)."""
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __len__(self) -> int: ...

@final
class CallSender:
    def __new__(cls, report: Callable[[str], None]) -> CallSender: ...
    @property
    def target(self) -> tuple[str, int, str, str, str] | None:
        """(host, port, stream_id, framework_id, encoding) of the subscription, or None."""
    def send(self, effects: bytes) -> None:
        """Queue the calls of msgpack effects; dropped and counted without a subscription."""
    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued call is written or dropped. GIL released."""
    def disconnect(self) -> None: ...
    def close(self) -> None: ...
    def counters(self) -> dict[str, int]: ...

@final
class EventStream:
    @property
    def encoding(self) -> Literal["protobuf", "json"]: ...
    def run(
        self,
        inbox: Inbox,
        calls: CallSender | None = None,
        *,
        call_headers: list[tuple[str, str]] = ...,
        heartbeat_misses: float = 3.0,
    ) -> dict[str, Any]:
        """Read events into the inbox until the stream ends. GIL released."""
    def close(self) -> None: ...

def open_event_stream(
    host: str,
    port: int,
    headers: list[tuple[str, str]],
    body: bytes,
    /,
    *,
    timeout: float = 10.0,
) -> tuple[int, list[tuple[str, str]], bytes, EventStream | None]:
    """POST a SUBSCRIBE and read the answer's head. Raises OSError. GIL released."""

def encode_calls(
    effects: bytes, /, framework_id: str, encoding: Literal["protobuf", "json"] = "protobuf"
) -> list[tuple[str, bytes, str]]:
    """(kind, body, media_type) of each msgpack effect's Call. Raises MessageError."""

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
