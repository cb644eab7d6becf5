//! The binding `ark._core`: converts, delegates, converts back. No logic lives
//! here; `ark/_core.pyi` documents each item for Python.

use std::collections::HashSet;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::call_sender::CallSender;
use crate::calls::Encoding;
use crate::dispatch::{Dispatcher, Item, Pumped, Route, Stop};
use crate::effects::{self, Effect};
use crate::error::CoreError;
use crate::event_stream::{self, EventStream, Sink};
use crate::inbox::{Closed, Inbox};
use crate::json;
use crate::matching;
use crate::messages::Message;
use crate::protobuf;
use crate::reducer::Reducer;
use crate::state::{Config, Phase, State, TaskView};

pyo3::import_exception!(ark.errors, MessageError);
pyo3::import_exception!(ark.errors, CommandRejected);
pyo3::import_exception!(ark.errors, InboxClosed);

impl From<CoreError> for PyErr {
    fn from(error: CoreError) -> PyErr {
        match error {
            CoreError::Message(_) => MessageError::new_err(error.to_string()),
            CoreError::Rejected(_) => CommandRejected::new_err(error.to_string()),
        }
    }
}

impl From<Closed> for PyErr {
    fn from(_: Closed) -> PyErr {
        InboxClosed::new_err("the inbox is closed")
    }
}

/// A custom message in the inbox: the Python object itself (never encoded)
/// and the id of the `ask` awaiting its reply (0 for none).
type Custom = (Py<PyAny>, u64);
type InboxItem = Item<Custom>;

fn timeout_of(seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("bad timeout: {e}")))
}

/// The Rust reducer: owns the state, steps messages given as msgpack bytes.
#[pyclass(name = "Core", module = "ark._core")]
struct PyCore {
    reducer: Reducer,
    dispatcher: Dispatcher<Custom>,
}

/// What a pump or a routed step gives Python: the stop, the effects left to
/// the scheduler (msgpack), the failures and the launches to persist.
fn pumped_to_python<'py>(py: Python<'py>, pumped: Pumped<Custom>) -> PyResult<Bound<'py, PyTuple>> {
    let stop: Bound<'py, PyAny> = match pumped.stop {
        None => py.None().into_bound(py),
        Some(Stop::Hooked { data, used_offers }) => {
            ("hooked", PyBytes::new(py, &data), used_offers)
                .into_pyobject(py)?
                .into_any()
        }
        Some(Stop::Passthrough((object, ask))) => {
            ("custom", object, ask).into_pyobject(py)?.into_any()
        }
    };
    let errors = PyList::empty(py);
    for (tag, error) in pumped.errors {
        errors.append((tag, PyErr::from(error).into_value(py)))?;
    }
    let intents: Vec<(String, String)> = pumped
        .intents
        .into_iter()
        .map(|(task, agent)| (task.to_string(), agent.to_string()))
        .collect();
    (
        stop,
        PyBytes::new(py, &effects::encode(&pumped.effects)),
        errors,
        intents,
        pumped.taken,
    )
        .into_pyobject(py)
}

#[pymethods]
impl PyCore {
    #[new]
    #[pyo3(signature = (config = None))]
    fn new(config: Option<&[u8]>) -> PyResult<Self> {
        let config = match config {
            None => Config::default(),
            Some(bytes) => rmp_serde::from_slice(bytes)
                .map_err(|e| MessageError::new_err(format!("bad reducer config: {e}")))?,
        };
        if !matches!(config.matching_strategy.as_str(), "binpack" | "spread") {
            return Err(MessageError::new_err(format!(
                "bad reducer config: matching_strategy {:?} is not binpack or spread",
                config.matching_strategy
            )));
        }
        Ok(PyCore {
            reducer: Reducer::new(config),
            dispatcher: Dispatcher::default(),
        })
    }

    /// Step what waits in `inbox` (waiting up to `timeout` for the first
    /// message), sending the calls that follow through `calls`, until a
    /// message needs the scheduler: one whose tag is in `hooked` (stepped
    /// first) or a custom message (never stepped). Returns `(stop, effects,
    /// errors, intents, taken)`: the stop (`None`, `("hooked", data, used_offer_ids)`
    /// or `("custom", message, ask_id)`), the msgpack effects left to the
    /// scheduler (all of them when `calls` is None), `(tag, error)` for
    /// each message that failed, and, with `hold_launches`, the `(task_id,
    /// agent_id)` launches whose calls wait for `release`, and how many
    /// messages were taken from the inbox. Raises
    /// InboxClosed once the inbox is closed and empty. The GIL is released.
    #[pyo3(signature = (inbox, calls = None, *, hooked, hold_launches = false, max_messages = 1024, timeout = 0.1))]
    #[allow(clippy::too_many_arguments)]
    fn pump<'py>(
        &mut self,
        py: Python<'py>,
        inbox: &PyInbox,
        calls: Option<&PyCallSender>,
        hooked: HashSet<String>,
        hold_launches: bool,
        max_messages: usize,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let timeout = timeout_of(timeout)?;
        let inbox = Arc::clone(&inbox.inner);
        let sender = calls.map(|c| Arc::clone(&c.inner));
        let (reducer, dispatcher) = (&mut self.reducer, &mut self.dispatcher);
        let pumped = py.detach(move || {
            let route = Route {
                sender: sender.as_deref(),
                hold_launches,
            };
            dispatcher.pump(
                reducer,
                &inbox,
                &hooked,
                &route,
                max_messages.max(1),
                timeout,
            )
        })?;
        pumped_to_python(py, pumped)
    }

    /// Apply one message (a hook's command) and route its effects as `pump`
    /// does; returns `(None, effects, [], intents, 1)`. Raises MessageError or
    /// CommandRejected if it did not apply (and changed nothing). GIL held.
    #[pyo3(signature = (message, /, calls = None, *, hold_launches = false))]
    fn step_routed<'py>(
        &mut self,
        py: Python<'py>,
        message: &[u8],
        calls: Option<&PyCallSender>,
        hold_launches: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let route = Route {
            sender: calls.map(|c| &*c.inner),
            hold_launches,
        };
        let pumped = self
            .dispatcher
            .step_one(&mut self.reducer, message, &route)?;
        pumped_to_python(py, pumped)
    }

    /// Send the calls held for launches the store has now written.
    fn release(&mut self, calls: &PyCallSender) {
        self.dispatcher.release(&calls.inner);
    }

    /// Drop the held calls (the store refused the write); returns how many.
    fn discard(&mut self) -> usize {
        self.dispatcher.discard()
    }

    /// The loop's counters: messages by tag, effects by type, offers
    /// accepted and declined, reconciliation requests, rejected messages.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.dispatcher.counters;
        let out = PyDict::new(py);
        out.set_item("messages", c.messages.clone())?;
        out.set_item("effects", c.effects.clone())?;
        out.set_item("rejected", c.rejected)?;
        out.set_item("offers_accepted", c.offers_accepted)?;
        out.set_item("offers_declined", c.offers_declined)?;
        out.set_item("reconcile_explicit", c.reconcile_explicit)?;
        out.set_item("reconcile_implicit", c.reconcile_implicit)?;
        Ok(out)
    }

    /// Apply one message; returns the msgpack list of its effects. The GIL is held.
    #[pyo3(signature = (message, /, *, now))]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        message: &[u8],
        now: f64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let message = Message::decode(message)?;
        let mut out = Vec::new();
        self.reducer.step(message, now, &mut out)?;
        Ok(PyBytes::new(py, &effects::encode(&out)))
    }

    /// Apply messages in order; returns the msgpack list of all their effects
    /// and `(index, error)` for each message that failed (and changed nothing).
    /// The GIL is released while the batch runs.
    #[pyo3(signature = (messages, /, *, now))]
    fn step_batch<'py>(
        &mut self,
        py: Python<'py>,
        messages: Vec<Bound<'py, PyBytes>>,
        now: f64,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyList>)> {
        let owned: Vec<Vec<u8>> = messages.iter().map(|m| m.as_bytes().to_vec()).collect();
        let reducer = &mut self.reducer;
        let (out, failures) = py.detach(move || {
            let mut out: Vec<Effect> = Vec::new();
            let mut failures = Vec::new();
            for (index, bytes) in owned.iter().enumerate() {
                if let Err(e) = Message::decode(bytes).and_then(|m| reducer.step(m, now, &mut out))
                {
                    failures.push((index, e));
                }
            }
            (effects::encode(&out), failures)
        });
        let errors = PyList::empty(py);
        for (index, error) in failures {
            errors.append((index, PyErr::from(error).into_value(py)))?;
        }
        Ok((PyBytes::new(py, &out), errors))
    }

    /// The state as it is now; O(1), it shares structure with the core.
    fn snapshot(&self) -> PySnapshot {
        PySnapshot {
            state: self.reducer.state.clone(),
        }
    }
}

/// An immutable state; holding it costs the core nothing until the next write.
#[pyclass(name = "Snapshot", module = "ark._core", frozen)]
struct PySnapshot {
    state: State,
}

#[pymethods]
impl PySnapshot {
    #[getter]
    fn framework_id(&self) -> Option<&str> {
        self.state.framework_id.as_deref()
    }

    #[getter]
    fn registered(&self) -> bool {
        self.state.registered
    }

    #[getter]
    fn suppressed(&self) -> bool {
        self.state.suppressed
    }

    #[getter]
    fn error(&self) -> Option<&str> {
        self.state.error.as_deref()
    }

    #[getter]
    fn reconciliation_phase(&self) -> &'static str {
        match self.state.reconciliation.phase {
            Phase::Idle => "idle",
            Phase::Explicit { .. } => "explicit",
        }
    }

    #[getter]
    fn reconciliation_round(&self) -> u32 {
        match self.state.reconciliation.phase {
            Phase::Idle => 0,
            Phase::Explicit { round, .. } => round,
        }
    }

    #[getter]
    fn reconciliation_pending(&self) -> usize {
        match &self.state.reconciliation.phase {
            Phase::Idle => 0,
            Phase::Explicit { pending, .. } => pending.len(),
        }
    }

    #[getter]
    fn task_count(&self) -> usize {
        self.state.tasks.len()
    }

    #[getter]
    fn offer_count(&self) -> usize {
        self.state.offers.len()
    }

    #[getter]
    fn agent_count(&self) -> usize {
        self.state.agents.len()
    }

    /// The msgpack of `ark.state.StateView`; O(n). The GIL is released.
    fn view<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| self.state.encode_view());
        PyBytes::new(py, &bytes)
    }

    /// The msgpack of one `ark.state.TaskRecord`, or None.
    fn task<'py>(&self, py: Python<'py>, task_id: &str) -> Option<Bound<'py, PyBytes>> {
        let (id, task) = self.state.tasks.get_key_value(task_id)?;
        let bytes = rmp_serde::to_vec(&TaskView::new(id, task)).ok()?;
        Some(PyBytes::new(py, &bytes))
    }

    /// Task ids by state name, each list sorted.
    fn tasks_by_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut groups: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (id, task) in self.state.tasks.iter() {
            groups.entry(task.state.name()).or_default().push(id);
        }
        let dict = PyDict::new(py);
        for (state, mut ids) in groups {
            ids.sort_unstable();
            dict.set_item(state, ids)?;
        }
        Ok(dict)
    }

    /// Sorted ids of the tasks last seen on `agent_id`.
    fn tasks_on_agent(&self, agent_id: &str) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .state
            .tasks
            .iter()
            .filter(|(_, t)| t.agent_id.as_deref() == Some(agent_id))
            .map(|(id, _)| &**id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Of `task_ids`, those Mesos has reported (a status with a source) and
    /// those ended (terminal); unknown ids are in neither. The store settles
    /// its launch intents with one call per batch, not one per intent.
    fn settled(&self, task_ids: Vec<String>) -> (Vec<String>, Vec<String>) {
        let (mut reported, mut ended) = (Vec::new(), Vec::new());
        for id in task_ids {
            match self.state.tasks.get(id.as_str()) {
                Some(t) if t.state.is_terminal() => ended.push(id),
                Some(t) if t.source.is_some() => reported.push(id),
                _ => {}
            }
        }
        (reported, ended)
    }
}

/// The loop's inbox: lock-free `push` from any thread, batch `drain` for the
/// one consumer.
#[pyclass(name = "Inbox", module = "ark._core", frozen)]
struct PyInbox {
    inner: Arc<Inbox<InboxItem>>,
}

impl Sink for Inbox<InboxItem> {
    fn push(&self, message: Vec<u8>) -> Result<(), Closed> {
        Inbox::push(self, Item::Encoded(message))
    }
}

#[pymethods]
impl PyInbox {
    #[new]
    fn new() -> Self {
        PyInbox {
            inner: Arc::default(),
        }
    }

    /// Append one encoded message. Never blocks.
    #[pyo3(signature = (message, /))]
    fn push(&self, message: &[u8]) -> PyResult<()> {
        Ok(self.inner.push(Item::Encoded(message.to_vec()))?)
    }

    /// Append a custom message as it is (the core never looks inside), with
    /// the id of the ask awaiting its reply (0 for none). Never blocks.
    #[pyo3(signature = (message, /, ask = 0))]
    fn push_custom(&self, message: Py<PyAny>, ask: u64) -> PyResult<()> {
        Ok(self.inner.push(Item::Passthrough((message, ask)))?)
    }

    /// Up to `max_messages` messages, waiting up to `timeout` seconds for the
    /// first (GIL released while waiting); empty on timeout. Encoded messages
    /// come as bytes, custom ones as themselves.
    #[pyo3(signature = (*, max_messages = 1024, timeout = 1.0))]
    fn drain<'py>(
        &self,
        py: Python<'py>,
        max_messages: usize,
        timeout: f64,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let timeout = timeout_of(timeout)?;
        let batch = py.detach(|| self.inner.drain(max_messages.max(1), timeout))?;
        Ok(batch
            .into_iter()
            .map(|item| match item {
                Item::Encoded(data) => PyBytes::new(py, &data).into_any(),
                Item::Passthrough((object, _)) => object.into_bound(py),
            })
            .collect())
    }

    /// Refuse further pushes and wake the consumer; what is queued is still drained.
    fn close(&self) {
        self.inner.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// Sends calls to the subscribed master from a thread of its own, pipelined
/// on one connection; `report` (a callable taking one str) hears of every
/// call that failed.
#[pyclass(name = "CallSender", module = "ark._core", frozen)]
struct PyCallSender {
    inner: Arc<CallSender>,
}

#[pymethods]
impl PyCallSender {
    #[new]
    fn new(report: Py<PyAny>) -> Self {
        let report = move |line: String| {
            Python::attach(|py| {
                // A failing logger must not take the sender down.
                let _ = report.call1(py, (line,));
            })
        };
        PyCallSender {
            inner: Arc::new(CallSender::new(Box::new(report))),
        }
    }

    /// Where calls go now: `(host, port, stream_id, framework_id, encoding)`, or None.
    #[getter]
    fn target(&self) -> Option<(String, u16, String, String, &'static str)> {
        self.inner.target().map(|t| {
            let encoding = match t.encoding {
                Encoding::Protobuf => "protobuf",
                Encoding::Json => "json",
            };
            (t.host, t.port, t.stream_id, t.framework_id, encoding)
        })
    }

    /// Queue one call encoded by the caller (`kind` for the logs).
    fn send_encoded(&self, kind: &str, body: &[u8], media_type: &str) -> PyResult<()> {
        let leak = |s: &str| -> &'static str {
            match s {
                crate::calls::PROTOBUF => crate::calls::PROTOBUF,
                crate::calls::JSON => crate::calls::JSON,
                _ => "call",
            }
        };
        if leak(media_type) == "call" {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "media type must be {} or {}, not {media_type:?}",
                crate::calls::PROTOBUF,
                crate::calls::JSON
            )));
        }
        let kind = crate::calls::KINDS
            .iter()
            .find(|k| **k == kind)
            .copied()
            .unwrap_or("call");
        self.inner.send_encoded(crate::calls::EncodedCall {
            kind,
            body: body.to_vec(),
            media_type: leak(media_type),
        });
        Ok(())
    }

    /// Wait (GIL released) until every call queued so far is written or dropped.
    #[pyo3(signature = (timeout = 10.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = timeout_of(timeout)?;
        Ok(py.detach(|| self.inner.flush(timeout)))
    }

    /// Drop calls until the next subscription.
    fn disconnect(&self) {
        self.inner.disconnect();
    }

    /// Write what is queued, then stop (GIL released).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.inner.close());
    }

    /// `{"written", "accepted", "refused", "dropped", "unencodable"}` call counts.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        use std::sync::atomic::Ordering::Relaxed;
        let c = self.inner.counters();
        let out = PyDict::new(py);
        out.set_item("written", c.written.load(Relaxed))?;
        out.set_item("accepted", c.accepted.load(Relaxed))?;
        out.set_item("refused", c.refused.load(Relaxed))?;
        out.set_item("dropped", c.dropped.load(Relaxed))?;
        out.set_item("unencodable", c.unencodable.load(Relaxed))?;
        Ok(out)
    }
}

/// An open SUBSCRIBE stream, read by `run` into an inbox.
#[pyclass(name = "EventStream", module = "ark._core", frozen)]
struct PyEventStream {
    stream: Mutex<Option<EventStream>>,
    closer: Mutex<Option<TcpStream>>,
    #[pyo3(get)]
    encoding: &'static str,
}

#[pymethods]
impl PyEventStream {
    /// Read events into `inbox` until the stream ends (GIL released): SUBSCRIBED
    /// points `calls` at this subscription (with `call_headers`) before the loop
    /// sees it, and arms the watchdog (`heartbeat_misses` intervals). Returns
    /// `{"subscribed", "framework_id", "error", "reason", "events", "malformed"}`.
    #[pyo3(signature = (inbox, calls = None, *, call_headers = Vec::new(), heartbeat_misses = 3.0))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        inbox: &PyInbox,
        calls: Option<&PyCallSender>,
        call_headers: Vec<(String, String)>,
        heartbeat_misses: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let stream = self.stream.lock().unwrap().take().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("the stream was already read")
        })?;
        let inbox = Arc::clone(&inbox.inner);
        let sender = calls.map(|c| Arc::clone(&c.inner));
        let ended = py.detach(move || {
            stream.run(&*inbox, sender.as_deref(), &call_headers, heartbeat_misses)
        });
        self.closer.lock().unwrap().take();
        let out = PyDict::new(py);
        out.set_item("subscribed", ended.subscribed)?;
        out.set_item("framework_id", ended.framework_id)?;
        out.set_item("error", ended.error)?;
        out.set_item("reason", ended.reason)?;
        out.set_item("events", ended.events)?;
        out.set_item("malformed", ended.malformed)?;
        Ok(out)
    }

    /// End `run` from another thread.
    fn close(&self) {
        if let Some(socket) = self.closer.lock().unwrap().as_ref() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        if let Some(stream) = self.stream.lock().unwrap().take() {
            drop(stream);
        }
    }
}

/// Connect to `host:port`, POST one SUBSCRIBE (`body`, with `headers`) and
/// read the answer's head (GIL released). Returns `(status, headers, text,
/// stream)`: `stream` is an `EventStream` for a 200, else None and `text`
/// the start of the answer's body. Raises OSError if the master cannot be
/// reached.
#[pyfunction]
#[pyo3(signature = (host, port, headers, body, /, *, timeout = 10.0))]
fn open_event_stream<'py>(
    py: Python<'py>,
    host: &str,
    port: u16,
    headers: Vec<(String, String)>,
    body: &[u8],
    timeout: f64,
) -> PyResult<Bound<'py, PyTuple>> {
    let timeout = timeout_of(timeout)?;
    let opened = py.detach(|| event_stream::open(host, port, &headers, body, timeout))?;
    let stream = match opened.stream {
        None => None,
        Some(stream) => {
            let encoding = match stream.encoding() {
                Encoding::Protobuf => "protobuf",
                Encoding::Json => "json",
            };
            let closer = stream.closer()?;
            Some(PyEventStream {
                stream: Mutex::new(Some(stream)),
                closer: Mutex::new(Some(closer)),
                encoding,
            })
        }
    };
    (
        opened.head.status,
        opened.head.headers,
        PyBytes::new(py, &opened.text),
        stream,
    )
        .into_pyobject(py)
}

/// The `mesos.v1.scheduler.Call` bodies of msgpack effects for `framework_id`,
/// as `(kind, body, media_type)` (JSON for a launch payload outside Ark's
/// `.proto` subset). Raises MessageError for an effect that is not a call.
#[pyfunction]
#[pyo3(signature = (effects, /, framework_id, encoding = "protobuf"))]
fn encode_calls<'py>(
    py: Python<'py>,
    effects: &[u8],
    framework_id: &str,
    encoding: &str,
) -> PyResult<Vec<(&'static str, Bound<'py, PyBytes>, &'static str)>> {
    let encoding = Encoding::parse(encoding).map_err(pyo3::exceptions::PyValueError::new_err)?;
    let effects = effects::decode(effects).map_err(MessageError::new_err)?;
    effects
        .iter()
        .map(|e| {
            let call =
                crate::calls::encode(e, framework_id, encoding).map_err(MessageError::new_err)?;
            Ok((call.kind, PyBytes::new(py, &call.body), call.media_type))
        })
        .collect()
}

/// One offer-matching cycle: a msgpack `MatchInput` in, msgpack `Decisions`
/// out (see `ark/matching.py`). The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (data, /))]
fn match_offers<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = py
        .detach(|| {
            let input: matching::MatchInput<'_> =
                rmp_serde::from_slice(data).map_err(|e| format!("bad match input: {e}"))?;
            let decisions = matching::match_offers(&input)?;
            // Decisions are about half the size of the input: room for them
            // up front saves the copies of a growing buffer.
            let mut out = Vec::with_capacity(data.len() / 2);
            rmp_serde::encode::write(&mut out, &decisions)
                .expect("decisions are plain data and always encode");
            Ok::<_, String>(out)
        })
        .map_err(MessageError::new_err)?;
    Ok(PyBytes::new(py, &bytes))
}

/// One `mesos.v1.scheduler.Event`, as read off the stream in `encoding`
/// (`"protobuf"` or `"json"`), lifted into its `ark.messages` message: the
/// type name and its msgpack, ready for an inbox; `None` for events Ark does
/// not model. The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (data, /, encoding = "protobuf"))]
fn decode_event<'py>(
    py: Python<'py>,
    data: &[u8],
    encoding: &str,
) -> PyResult<Option<(&'static str, Bound<'py, PyBytes>)>> {
    let decode = match encoding {
        "protobuf" => protobuf::decode_event,
        "json" => json::decode_event,
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "encoding must be 'protobuf' or 'json', not {encoding:?}"
            )))
        }
    };
    let lifted = py.detach(|| decode(data))?;
    Ok(lifted.map(|(tag, bytes)| (tag, PyBytes::new(py, &bytes))))
}

/// The serialized `FileDescriptorSet` of Ark's `.proto` files.
#[pyfunction]
fn descriptor_set(py: Python<'_>) -> Bound<'_, PyBytes> {
    PyBytes::new(py, protobuf::DESCRIPTOR_SET)
}

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::{
        decode_event, descriptor_set, encode_calls, match_offers, open_event_stream, PyCallSender,
        PyCore, PyEventStream, PyInbox, PySnapshot,
    };
}
