//! `Inbox`: what the loop drains, pushed from any thread.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::dispatch::Item;
use crate::event_stream::Sink;
use crate::inbox::{Closed, Inbox};

use super::timeout_of;

/// A custom message in the inbox: the Python object itself (never encoded)
/// and the id of the `ask` awaiting its reply (0 for none).
pub(super) type Custom = (Py<PyAny>, u64);
pub(super) type InboxItem = Item<Custom>;

/// The loop's inbox: lock-free `push` from any thread, batch `drain` for the
/// one consumer.
#[pyclass(name = "Inbox", module = "ark._core", frozen)]
pub(super) struct PyInbox {
    pub(super) inner: Arc<Inbox<InboxItem>>,
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
