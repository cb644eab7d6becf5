//! The loop's inner part, in Rust: drain the inbox, step every message no
//! hook wants, and send the calls that follow from them, so that a storm of
//! status updates is read, stepped and acknowledged without Python.
//!
//! Control comes back to the scheduler (Python) only for what needs it: a
//! message one of its hooks wants (after the core has stepped it), a custom
//! message (which the core never steps), the scheduler's own effects
//! (`Timer`, `Unreconciled`), and launches that must be written to the store
//! before the ACCEPT that makes them: those calls are held until the
//! scheduler releases them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::call_sender::CallSender;
use crate::effects::Effect;
use crate::error::CoreError;
use crate::inbox::{Closed, Inbox};
use crate::messages::Message;
use crate::recorder::{Source, Tape};
use crate::reducer::Reducer;
use crate::state::{Id, TaskId};

/// What the inbox carries: a core message (msgpack), or something the core
/// passes through untouched (the binding's custom messages).
pub enum Item<P> {
    Encoded(Vec<u8>),
    Passthrough(P),
}

/// Where a pump stopped for the scheduler.
pub enum Stop<P> {
    /// A message a hook wants, already stepped, with the ids of the offers
    /// its own effects used (the hook sees the others).
    Hooked {
        data: Vec<u8>,
        used_offers: Vec<String>,
    },
    Passthrough(P),
}

/// What one pump hands the scheduler.
pub struct Pumped<P> {
    pub stop: Option<Stop<P>>,
    /// Effects for the scheduler: its own, or all of them without a sender.
    pub effects: Vec<Effect>,
    /// Messages that failed (and changed nothing): their tag and the error.
    pub errors: Vec<(String, CoreError)>,
    /// Launches to write to the store before `release`.
    pub intents: Vec<(TaskId, Id)>,
    /// Messages taken from the inbox (the state may have changed).
    pub taken: usize,
}

impl<P> Default for Pumped<P> {
    fn default() -> Self {
        Pumped {
            stop: None,
            effects: Vec::new(),
            errors: Vec::new(),
            intents: Vec::new(),
            taken: 0,
        }
    }
}

/// What the loop did, by kind.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub messages: HashMap<String, u64>,
    pub effects: HashMap<&'static str, u64>,
    pub rejected: u64,
    pub offers_accepted: u64,
    pub offers_declined: u64,
    pub reconcile_explicit: u64,
    pub reconcile_implicit: u64,
}

/// How a dispatcher routes effects.
pub struct Route<'a> {
    /// Calls go here; without a sender every effect goes to the scheduler.
    pub sender: Option<&'a CallSender>,
    /// Hold the calls of a step that launches tasks until `release`.
    pub hold_launches: bool,
}

pub struct Dispatcher<P> {
    /// Drained, not yet processed: what followed a stop.
    carry: VecDeque<Item<P>>,
    held: Vec<Effect>,
    pub counters: Counters,
    /// The flight recorder's tape, when recording.
    pub tape: Option<Tape>,
}

impl<P> Default for Dispatcher<P> {
    fn default() -> Self {
        Dispatcher {
            carry: VecDeque::new(),
            held: Vec::new(),
            counters: Counters::default(),
            tape: None,
        }
    }
}

/// The reducer's clock: the wall clock when first read, then advanced by the
/// monotonic clock. Its times read as wall-clock times, but a step of the
/// system clock (NTP, an operator's `date -s`) never moves them: an offer
/// received before a step back is still declined after `offer_hold_seconds`,
/// not an hour later.
pub fn now() -> f64 {
    static ORIGIN: OnceLock<(Instant, f64)> = OnceLock::new();
    let (instant, wall) = ORIGIN.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        (Instant::now(), wall)
    });
    wall + instant.elapsed().as_secs_f64()
}

/// The tag of an encoded message (`[tag, field, ...]`), read without decoding it.
pub fn tag(data: &[u8]) -> Option<&str> {
    let mut rest = data;
    rmp::decode::read_array_len(&mut rest).ok()?;
    let (tag, _) = rmp::decode::read_str_from_slice(rest).ok()?;
    Some(tag)
}

impl<P> Dispatcher<P> {
    /// Wait up to `timeout` for messages to step, without the reducer, so
    /// that readers of the state are not held up while the loop idles.
    /// `Err(Closed)` once the inbox is closed and empty.
    pub fn wait(
        &mut self,
        inbox: &Inbox<Item<P>>,
        max: usize,
        timeout: Duration,
    ) -> Result<(), Closed> {
        if self.carry.is_empty() {
            self.carry.extend(inbox.drain(max, timeout)?);
        }
        Ok(())
    }

    /// Step messages from the carry and then the inbox (waiting up to
    /// `timeout` for the first) until one needs the scheduler or `max` were
    /// taken. `Err(Closed)` once the inbox is closed and empty.
    pub fn pump(
        &mut self,
        reducer: &mut Reducer,
        inbox: &Inbox<Item<P>>,
        hooked: &HashSet<String>,
        route: &Route<'_>,
        max: usize,
        timeout: Duration,
    ) -> Result<Pumped<P>, Closed> {
        if self.carry.is_empty() {
            self.carry.extend(inbox.drain(max, timeout)?);
        }
        let now = now();
        let mut pumped = Pumped::default();
        let mut out = Vec::new();
        while let Some(item) = self.carry.pop_front() {
            pumped.taken += 1;
            let data = match item {
                Item::Passthrough(p) => {
                    pumped.stop = Some(Stop::Passthrough(p));
                    break;
                }
                Item::Encoded(data) => data,
            };
            let first = out.len();
            let tag = self.step(reducer, &data, now, &mut out, &mut pumped.errors);
            if let Some(tape) = &mut self.tape {
                tape.step(Source::Inbox, &data, now, &out[first..]);
            }
            if tag.as_ref().is_some_and(|t| hooked.contains(t)) {
                let used_offers = used_offers(&out[first..]);
                pumped.stop = Some(Stop::Hooked { data, used_offers });
                break;
            }
        }
        self.route(out, route, &mut pumped);
        Ok(pumped)
    }

    /// Step one message (a hook's command) and route its effects.
    pub fn step_one(
        &mut self,
        reducer: &mut Reducer,
        data: &[u8],
        route: &Route<'_>,
    ) -> Result<Pumped<P>, CoreError> {
        let mut pumped = Pumped {
            taken: 1,
            ..Pumped::default()
        };
        let mut out = Vec::new();
        let now = now();
        self.step(reducer, data, now, &mut out, &mut pumped.errors);
        if let Some(tape) = &mut self.tape {
            tape.step(Source::Command, data, now, &out);
        }
        if let Some((_, error)) = pumped.errors.pop() {
            return Err(error);
        }
        self.route(out, route, &mut pumped);
        Ok(pumped)
    }

    fn step(
        &mut self,
        reducer: &mut Reducer,
        data: &[u8],
        now: f64,
        out: &mut Vec<Effect>,
        errors: &mut Vec<(String, CoreError)>,
    ) -> Option<String> {
        let tag = tag(data).map(str::to_owned);
        let name = tag.as_deref().unwrap_or("");
        match self.counters.messages.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                self.counters.messages.insert(name.to_owned(), 1);
            }
        }
        if let Err(e) = Message::decode(data).and_then(|m| reducer.step(m, now, out)) {
            self.counters.rejected += 1;
            errors.push((name.to_owned(), e));
        }
        tag
    }

    /// Send what can go, hold launches if asked, hand the rest back.
    fn route(&mut self, effects: Vec<Effect>, route: &Route<'_>, pumped: &mut Pumped<P>) {
        let mut calls = Vec::with_capacity(effects.len());
        for effect in effects {
            self.count(&effect);
            match (&effect, route.sender) {
                // UPDATE_FRAMEWORK needs the FrameworkInfo, which the driver holds.
                (
                    Effect::Timer { .. }
                    | Effect::Unreconciled { .. }
                    | Effect::UpdateFramework { .. },
                    _,
                )
                | (_, None) => pumped.effects.push(effect),
                _ => calls.push(effect),
            }
        }
        let Some(sender) = route.sender else { return };
        if route.hold_launches {
            for effect in &calls {
                if let Effect::Accept {
                    agent_id, launches, ..
                } = effect
                {
                    // A pod's members are the tasks to remember, not the pod.
                    let intents = launches
                        .iter()
                        .flat_map(|l| l.task_ids())
                        .map(|t| (t.into(), agent_id.clone()));
                    pumped.intents.extend(intents);
                }
            }
        }
        if !self.held.is_empty() || !pumped.intents.is_empty() {
            self.held.extend(calls);
        } else {
            sender.send(calls);
        }
    }

    /// Send the calls held for the store.
    pub fn release(&mut self, sender: &CallSender) {
        sender.send(std::mem::take(&mut self.held));
    }

    /// Drop the calls held for the store (it refused the write: fenced).
    pub fn discard(&mut self) -> usize {
        std::mem::take(&mut self.held).len()
    }

    fn count(&mut self, effect: &Effect) {
        let c = &mut self.counters;
        *c.effects.entry(effect_name(effect)).or_default() += 1;
        match effect {
            Effect::Accept { offer_ids, .. } => c.offers_accepted += offer_ids.len() as u64,
            Effect::Decline { offer_ids, .. } => c.offers_declined += offer_ids.len() as u64,
            Effect::Reconcile { tasks } if tasks.is_empty() => c.reconcile_implicit += 1,
            Effect::Reconcile { .. } => c.reconcile_explicit += 1,
            _ => {}
        }
    }
}

/// The `ark.effects` class name of an effect.
pub fn effect_name(effect: &Effect) -> &'static str {
    match effect {
        Effect::Accept { .. } => "Accept",
        Effect::Decline { .. } => "Decline",
        Effect::Kill { .. } => "Kill",
        Effect::Reconcile { .. } => "Reconcile",
        Effect::Acknowledge { .. } => "Acknowledge",
        Effect::Suppress => "Suppress",
        Effect::Revive => "Revive",
        Effect::Message { .. } => "Message",
        Effect::UpdateFramework { .. } => "UpdateFramework",
        Effect::AcceptInverseOffers { .. } => "AcceptInverseOffers",
        Effect::DeclineInverseOffers { .. } => "DeclineInverseOffers",
        Effect::Timer { .. } => "Timer",
        Effect::Unreconciled { .. } => "Unreconciled",
    }
}

fn used_offers(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .flat_map(|e| match e {
            Effect::Accept { offer_ids, .. } => offer_ids.clone(),
            Effect::Decline { offer_ids, .. } => offer_ids.iter().map(|o| o.to_string()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod clock_tests {
    use super::now;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn now_reads_as_the_wall_clock_and_never_goes_back() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let first = now();
        assert!((first - wall).abs() < 5.0);
        let mut last = first;
        for _ in 0..1000 {
            let next = now();
            assert!(next >= last);
            last = next;
        }
    }
}
