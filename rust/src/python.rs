//! The binding `ark._core`: converts, delegates to the core, converts back,
//! and releases the GIL around the long parts. Its own code is only what
//! Python needs: the error mapping below and handing the messages a hook
//! wants to Python objects; `ark/_core.pyi` documents each item for Python.
//! One file per part of the API: the core and its snapshots, the inbox, the
//! wire (event stream, call sender, codecs).

mod core;
mod inbox;
mod wire;

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use pyo3::prelude::*;

use crate::error::CoreError;
use crate::inbox::Closed;

pyo3::import_exception!(ark.errors, MessageError);
pyo3::import_exception!(ark.errors, CommandRejected);
pyo3::import_exception!(ark.errors, InboxClosed);
pyo3::import_exception!(ark.errors, InternalError);

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

/// Run `f`, turning a panic (a bug of the core) into InternalError, an
/// ArkError the loop survives, instead of pyo3's PanicException, a
/// BaseException that would end the loop's thread.
pub(super) fn guarded<R>(f: impl FnOnce() -> R) -> PyResult<R> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        InternalError::new_err(format!(
            "Ark's Rust core panicked (a bug: please report it): {what}"
        ))
    })
}

pub(super) fn timeout_of(seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("bad timeout: {e}")))
}

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::core::{match_offers, PyCore, PySnapshot};
    #[pymodule_export]
    use super::inbox::PyInbox;
    #[pymodule_export]
    use super::wire::{
        decode_event, descriptor_set, encode_calls, open_event_stream, PyCallSender, PyEventStream,
    };
}
