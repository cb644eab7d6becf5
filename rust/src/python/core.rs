//! `Core` (the reducer and the loop's pump) and `Snapshot`, and one matching cycle.
//!
//! The core is read from any thread while the loop writes: the reducer and
//! the dispatcher each sit behind a mutex, taken with the GIL released when a
//! wait is needed, and the loop's pump holds the reducer only while it steps,
//! not while it waits for messages.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::dispatch::{Dispatcher, Pumped, Route, Stop};
use crate::effects::{self, Effect};
use crate::matching;
use crate::messages::Message;
use crate::recorder::Tape;
use crate::reducer::Reducer;
use crate::state::{Config, Phase, State, TaskView};

use super::{guarded, timeout_of, InternalError, MessageError};

use super::inbox::{Custom, PyInbox};
use super::wire::PyCallSender;

/// The Rust reducer: owns the state, steps messages given as msgpack bytes.
/// Safe to use from any thread; the dispatcher is always taken before the
/// reducer.
#[pyclass(name = "Core", module = "ark._core", frozen)]
pub(super) struct PyCore {
    reducer: Mutex<Reducer>,
    dispatcher: Mutex<Dispatcher<Custom>>,
    /// Test hook: the next write panics inside the core (see `_inject_panic`).
    panic_armed: AtomicBool,
}

/// A mutex's data. A panic while it was held was already raised as
/// InternalError; the data is used as that panic left it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Run a short `f` on a mutex's data: with the GIL if the mutex is free, else
/// waiting for it with the GIL released (its holder may need the GIL back).
fn locked<T: Send, R: Send>(
    py: Python<'_>,
    mutex: &Mutex<T>,
    f: impl FnOnce(&mut T) -> R + Send,
) -> R {
    match mutex.try_lock() {
        Ok(mut guard) => f(&mut guard),
        Err(TryLockError::Poisoned(poisoned)) => f(&mut poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => py.detach(|| f(&mut lock(mutex))),
    }
}

/// What a pump or a routed step gives Python: the stop, the effects left to
/// the scheduler (msgpack), the failures and the launches to persist.
pub(super) fn pumped_to_python<'py>(
    py: Python<'py>,
    pumped: Pumped<Custom>,
) -> PyResult<Bound<'py, PyTuple>> {
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
        Ok(PyCore {
            reducer: Mutex::new(Reducer::new(config)),
            dispatcher: Mutex::new(Dispatcher::default()),
            panic_armed: AtomicBool::new(false),
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
        &self,
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
        let max = max_messages.max(1);
        let pumped = py.detach(|| {
            let mut dispatcher = lock(&self.dispatcher);
            dispatcher.wait(&inbox, max, timeout)?;
            let route = Route {
                sender: sender.as_deref(),
                hold_launches,
            };
            let mut reducer = lock(&self.reducer);
            let pumped = guarded(|| {
                self.panic_if_armed();
                dispatcher.pump(&mut reducer, &inbox, &hooked, &route, max, Duration::ZERO)
            })??;
            Ok::<_, PyErr>(pumped)
        })?;
        pumped_to_python(py, pumped)
    }

    /// Apply one message (a hook's command) and route its effects as `pump`
    /// does; returns `(None, effects, [], intents, 1)`. Raises MessageError or
    /// CommandRejected if it did not apply (and changed nothing). GIL held.
    #[pyo3(signature = (message, /, calls = None, *, hold_launches = false))]
    fn step_routed<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        calls: Option<&PyCallSender>,
        hold_launches: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let route = Route {
            sender: calls.map(|c| &*c.inner),
            hold_launches,
        };
        let pumped = py.detach(|| {
            let mut dispatcher = lock(&self.dispatcher);
            let mut reducer = lock(&self.reducer);
            guarded(|| {
                self.panic_if_armed();
                dispatcher.step_one(&mut reducer, message, &route)
            })
        })??;
        pumped_to_python(py, pumped)
    }

    /// Send the calls held for launches the store has now written.
    fn release(&self, py: Python<'_>, calls: &PyCallSender) {
        locked(py, &self.dispatcher, |d| d.release(&calls.inner));
    }

    /// Drop the held calls (the store refused the write); returns how many.
    fn discard(&self, py: Python<'_>) -> usize {
        locked(py, &self.dispatcher, |d| d.discard())
    }

    /// Start (`True`) or stop recording: every message stepped from then on,
    /// with its `now` and effects, is appended to a tape `take_recording` empties.
    fn record(&self, py: Python<'_>, on: bool) {
        locked(py, &self.dispatcher, |d| d.tape = on.then(Tape::default));
    }

    /// The tape recorded since the last call (empty when not recording).
    fn take_recording<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        // Copied out under the lock: the bytes object needs the GIL, which
        // a waiter for the lock may have given up.
        let data = locked(py, &self.dispatcher, |d| match &mut d.tape {
            Some(tape) => tape.drain(<[u8]>::to_vec),
            None => Vec::new(),
        });
        PyBytes::new(py, &data)
    }

    /// Append a note (the scheduler's record of a hook) to the tape, if recording.
    #[pyo3(signature = (data, /, *, now))]
    fn note(&self, py: Python<'_>, data: &[u8], now: f64) {
        locked(py, &self.dispatcher, |d| {
            if let Some(tape) = &mut d.tape {
                tape.note(data, now);
            }
        });
    }

    /// The loop's counters: messages by tag, effects by type, offers
    /// accepted and declined, reconciliation requests, rejected messages.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = locked(py, &self.dispatcher, |d| d.counters.clone());
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

    /// Apply one message; returns the msgpack list of its effects. The GIL is
    /// held unless another thread holds the core.
    #[pyo3(signature = (message, /, *, now))]
    fn step<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        now: f64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let out = locked(py, &self.reducer, |reducer| {
            guarded(|| {
                self.panic_if_armed();
                let message = Message::decode(message)?;
                let mut out = Vec::new();
                reducer.step(message, now, &mut out)?;
                Ok::<_, PyErr>(effects::encode(&out))
            })
        })??;
        Ok(PyBytes::new(py, &out))
    }

    /// Apply messages in order; returns the msgpack list of all their effects
    /// and `(index, error)` for each message that failed (and changed nothing).
    /// The GIL is released while the batch runs.
    #[pyo3(signature = (messages, /, *, now))]
    fn step_batch<'py>(
        &self,
        py: Python<'py>,
        messages: Vec<Bound<'py, PyBytes>>,
        now: f64,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyList>)> {
        let owned: Vec<Vec<u8>> = messages.iter().map(|m| m.as_bytes().to_vec()).collect();
        let (out, failures) = py.detach(|| {
            let mut reducer = lock(&self.reducer);
            guarded(|| {
                self.panic_if_armed();
                let mut out: Vec<Effect> = Vec::new();
                let mut failures = Vec::new();
                for (index, bytes) in owned.iter().enumerate() {
                    if let Err(e) =
                        Message::decode(bytes).and_then(|m| reducer.step(m, now, &mut out))
                    {
                        failures.push((index, e));
                    }
                }
                (effects::encode(&out), failures)
            })
        })?;
        let errors = PyList::empty(py);
        for (index, error) in failures {
            errors.append((index, PyErr::from(error).into_value(py)))?;
        }
        Ok((PyBytes::new(py, &out), errors))
    }

    /// The state after the last write; O(1), it shares structure with the
    /// core. From another thread it waits (GIL released) for a write in
    /// progress, never for a pump waiting on its inbox.
    fn snapshot(&self, py: Python<'_>) -> PySnapshot {
        PySnapshot {
            state: locked(py, &self.reducer, |reducer| reducer.state.clone()),
        }
    }

    /// For tests only: the next write (step, step_batch, step_routed or a
    /// pump's batch) panics inside the core, as a bug would, and raises
    /// InternalError.
    fn _inject_panic(&self) {
        self.panic_armed.store(true, Ordering::Relaxed);
    }
}

impl PyCore {
    fn panic_if_armed(&self) {
        if self.panic_armed.swap(false, Ordering::Relaxed) {
            panic!("injected by Core._inject_panic");
        }
    }
}

/// An immutable state; holding it costs the core nothing until the next write.
#[pyclass(name = "Snapshot", module = "ark._core", frozen)]
pub(super) struct PySnapshot {
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

    /// For each of `task_ids`, the msgpack `ark.messages.TaskRequest` it was
    /// placed from (`requests`), or None (launched by hand, ended, unknown):
    /// what the store keeps beside each launch, one call per batch.
    fn requests<'py>(
        &self,
        py: Python<'py>,
        task_ids: Vec<String>,
    ) -> PyResult<Vec<Option<Bound<'py, PyBytes>>>> {
        task_ids
            .iter()
            .map(|id| match self.state.requests.get(id.as_str()) {
                None => Ok(None),
                Some(request) => rmp_serde::to_vec(&request.view())
                    .map(|bytes| Some(PyBytes::new(py, &bytes)))
                    .map_err(|e| InternalError::new_err(format!("request of {id:?}: {e}"))),
            })
            .collect()
    }

    /// Each group's deployment as the msgpack `ark.messages.ResumeDeployment`
    /// a new leader resumes it from, by group: what the store keeps.
    fn stored_deployments<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        self.state
            .deployments
            .iter()
            .map(|(group, d)| {
                let resume = (
                    "ResumeDeployment",
                    &**group,
                    d.template.view(),
                    d.instances,
                    d.minimum_health_capacity,
                    d.maximum_over_capacity,
                    d.max_failures,
                    d.previous.as_ref().map(|p| p.view()),
                    d.failures,
                    d.phase,
                );
                rmp_serde::to_vec(&resume)
                    .map(|bytes| (group.to_string(), PyBytes::new(py, &bytes)))
                    .map_err(|e| InternalError::new_err(format!("deployment of {group:?}: {e}")))
            })
            .collect()
    }

    /// Each volume being given up (a Replace) as the msgpack
    /// `ark.messages.ResumeRelease` a new leader resumes it from, by
    /// persistence id: what the store keeps.
    fn stored_releases<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        self.state
            .releasing
            .iter()
            .filter_map(|id| Some((id, self.state.volumes.get(id)?)))
            .map(|(id, v)| {
                let resume = (
                    "ResumeRelease",
                    &**id,
                    &*v.agent_id,
                    &v.role,
                    v.size,
                    &v.container_path,
                    &v.principal,
                );
                rmp_serde::to_vec(&resume)
                    .map(|bytes| (id.to_string(), PyBytes::new(py, &bytes)))
                    .map_err(|e| InternalError::new_err(format!("release of {id:?}: {e}")))
            })
            .collect()
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

/// One offer-matching cycle: a msgpack `MatchInput` in, msgpack `Decisions`
/// out (see `ark/matching.py`). The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (data, /))]
pub(super) fn match_offers<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = py
        .detach(|| {
            guarded(|| {
                let input: matching::MatchInput<'_> =
                    rmp_serde::from_slice(data).map_err(|e| format!("bad match input: {e}"))?;
                let decisions = matching::match_offers(&input);
                // Decisions are about half the size of the input: room for them
                // up front saves the copies of a growing buffer.
                let mut out = Vec::with_capacity(data.len() / 2);
                rmp_serde::encode::write(&mut out, &decisions)
                    .expect("decisions are plain data and always encode");
                Ok::<_, String>(out)
            })
        })?
        .map_err(MessageError::new_err)?;
    Ok(PyBytes::new(py, &bytes))
}
