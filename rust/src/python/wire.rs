//! The wire: the SUBSCRIBE stream read into an inbox, the call sender, the
//! event and call codecs.

use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::call_sender::CallSender;
use crate::calls::Encoding;
use crate::effects::{self};
use crate::event_stream::{self, EventStream};
use crate::json;
use crate::protobuf;

use super::{guarded, timeout_of, MessageError};

use super::inbox::PyInbox;

/// Sends calls to the subscribed master from a thread of its own, pipelined
/// on one connection; `report` (a callable taking one str) hears of every
/// call that failed.
#[pyclass(name = "CallSender", module = "ark._core", frozen)]
pub(super) struct PyCallSender {
    pub(super) inner: Arc<CallSender>,
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

    /// Queue the calls of msgpack effects (as `ark.effects` encodes them)
    /// for the current subscription; dropped and counted when there is none.
    /// Raises MessageError for bytes that are not effects.
    fn send(&self, effects: &[u8]) -> PyResult<()> {
        let effects = effects::decode(effects).map_err(MessageError::new_err)?;
        self.inner.send(effects);
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
pub(super) struct PyEventStream {
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
pub(super) fn open_event_stream<'py>(
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
pub(super) fn encode_calls<'py>(
    py: Python<'py>,
    effects: &[u8],
    framework_id: &str,
    encoding: &str,
) -> PyResult<Vec<(&'static str, Bound<'py, PyBytes>, &'static str)>> {
    let encoding = Encoding::parse(encoding).map_err(pyo3::exceptions::PyValueError::new_err)?;
    let calls = guarded(|| {
        effects::decode(effects)?
            .iter()
            .map(|e| crate::calls::encode(e, framework_id, encoding))
            .collect::<Result<Vec<_>, _>>()
    })?
    .map_err(MessageError::new_err)?;
    Ok(calls
        .into_iter()
        .map(|call| (call.kind, PyBytes::new(py, &call.body), call.media_type))
        .collect())
}

/// One `mesos.v1.scheduler.Event`, as read off the stream in `encoding`
/// (`"protobuf"` or `"json"`), lifted into its `ark.messages` message: the
/// type name and its msgpack, ready for an inbox; `None` for events Ark does
/// not model. The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (data, /, encoding = "protobuf"))]
pub(super) fn decode_event<'py>(
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
    let lifted = py.detach(|| guarded(|| decode(data)))??;
    Ok(lifted.map(|(tag, bytes)| (tag, PyBytes::new(py, &bytes))))
}

/// The serialized `FileDescriptorSet` of Ark's `.proto` files.
#[pyfunction]
pub(super) fn descriptor_set(py: Python<'_>) -> Bound<'_, PyBytes> {
    PyBytes::new(py, protobuf::DESCRIPTOR_SET)
}
