//! The binding `ark._core`: converts, delegates, converts back. No logic lives
//! here; `ark/_core.pyi` documents each item for Python.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::effects::{self, Effect};
use crate::error::CoreError;
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

/// The Rust reducer: owns the state, steps messages given as msgpack bytes.
#[pyclass(name = "Core", module = "ark._core")]
struct PyCore {
    reducer: Reducer,
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
        })
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
    inner: Inbox<Py<PyBytes>>,
}

#[pymethods]
impl PyInbox {
    #[new]
    fn new() -> Self {
        PyInbox {
            inner: Inbox::default(),
        }
    }

    /// Append one encoded message. Never blocks.
    #[pyo3(signature = (message, /))]
    fn push(&self, message: Bound<'_, PyBytes>) -> PyResult<()> {
        Ok(self.inner.push(message.unbind())?)
    }

    /// Up to `max_messages` messages, waiting up to `timeout` seconds for the
    /// first (GIL released while waiting); empty on timeout.
    #[pyo3(signature = (*, max_messages = 1024, timeout = 1.0))]
    fn drain<'py>(
        &self,
        py: Python<'py>,
        max_messages: usize,
        timeout: f64,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("bad timeout: {e}")))?;
        let batch = py.detach(|| self.inner.drain(max_messages.max(1), timeout))?;
        Ok(batch.into_iter().map(|m| m.into_bound(py)).collect())
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
    use super::{decode_event, descriptor_set, match_offers, PyCore, PyInbox, PySnapshot};
}
