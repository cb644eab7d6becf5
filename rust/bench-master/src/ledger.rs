//! The harness's books: the tasks and offers it knows, and a counter for
//! every call, so that a benchmark can check that the framework under test
//! did the right thing (every update acknowledged once with its uuid, every
//! offer used once, no unknown call) and not only that it was fast.
//!
//! Pure bookkeeping: it never touches a socket. Each method returns the
//! events the master must send in answer.

use std::collections::{BTreeMap, HashMap};

use ark_core::protobuf::mesos::v1::task_status::{Reason, Source};
use ark_core::protobuf::mesos::v1::TaskState;
use serde_json::{json, Value};

use crate::calls::{Call, Launch};
use crate::events::OfferSpec;

/// A status update to send, owned (the ledger's answer to a call).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub task_id: String,
    /// None where the master does not know the task's agent.
    pub agent_id: Option<String>,
    pub state: TaskState,
    pub source: Source,
    pub reason: Option<Reason>,
    pub uuid: Option<[u8; 16]>,
}

struct Task {
    agent_id: String,
    state: TaskState,
    /// Uuids of updates sent and not yet acknowledged.
    outstanding: Vec<[u8; 16]>,
    /// Uuids acknowledged, to tell a duplicate from a bad uuid.
    acknowledged: Vec<[u8; 16]>,
}

/// What a call did to the books.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    /// Updates to send on the stream.
    pub updates: Vec<Update>,
    /// The framework tore itself down: close its stream.
    pub teardown: bool,
}

/// The counters of `GET /bench/stats`, zeroed by `POST /bench/reset`.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub subscribes: u64,
    pub updates_sent: u64,
    pub acks_ok: u64,
    pub acks_duplicate: u64,
    pub acks_bad_uuid: u64,
    pub acks_unknown: u64,
    pub offers_sent: u64,
    pub offers_accepted: u64,
    pub offers_declined: u64,
    pub offers_reused: u64,
    pub launches: u64,
    pub reconcile_calls: u64,
    pub reconcile_tasks: u64,
    pub unknown_calls: u64,
    pub bad_stream_id: u64,
    pub calls_by_type: BTreeMap<&'static str, u64>,
    pub first_update_at: Option<f64>,
    /// The harness's CPU seconds when the first update was handed to the
    /// stream: what it spent encoding the storm beforehand is not the run's.
    pub cpu_at_first_update: Option<f64>,
    pub last_ack_at: Option<f64>,
    pub last_accept_at: Option<f64>,
    pub last_reconcile_answer_at: Option<f64>,
}

/// The books.
#[derive(Default)]
pub struct Ledger {
    pub counters: Counters,
    tasks: HashMap<String, Task>,
    /// Offers sent: `true` once accepted or declined.
    offers: HashMap<String, bool>,
    next_offer: u64,
}

impl Ledger {
    /// Accounts for a call (not SUBSCRIBE: the master handles streams) at wall time `now`;
    /// `uuid` makes the uuids of the updates it answers with.
    pub fn call(&mut self, call: &Call, now: f64, uuid: &mut impl FnMut() -> [u8; 16]) -> Answer {
        *self.counters.calls_by_type.entry(call.name()).or_default() += 1;
        let mut answer = Answer::default();
        match call {
            Call::Subscribe { .. } => {}
            Call::Acknowledge { task_id, uuid } => self.acknowledge(task_id, uuid, now),
            Call::Accept {
                offer_ids,
                launches,
            } => {
                self.counters.last_accept_at = Some(now);
                let valid = offer_ids.iter().all(|o| self.offers.get(o) == Some(&false));
                for offer_id in offer_ids {
                    self.use_offer(offer_id, true);
                }
                answer.updates = if valid {
                    self.launch(launches, uuid)
                } else {
                    // As Mesos: the tasks of an ACCEPT of a used or unknown offer are lost.
                    launches.iter().map(invalid_offer).collect()
                };
            }
            Call::Decline { offer_ids } => {
                for offer_id in offer_ids {
                    self.use_offer(offer_id, false);
                }
            }
            Call::Reconcile { task_ids } => {
                self.counters.reconcile_calls += 1;
                answer.updates = if task_ids.is_empty() {
                    self.tasks.iter().map(|(id, t)| reconciled(id, t)).collect()
                } else {
                    task_ids
                        .iter()
                        .map(|id| match self.tasks.get(id) {
                            Some(task) => reconciled(id, task),
                            None => lost(id, None, Reason::Reconciliation),
                        })
                        .collect()
                };
                self.counters.reconcile_tasks += answer.updates.len() as u64;
            }
            Call::Kill { task_id } => {
                answer.updates.push(match self.tasks.get_mut(task_id) {
                    Some(task) => {
                        let u = uuid();
                        task.state = TaskState::TaskKilled;
                        task.outstanding.push(u);
                        Update {
                            task_id: task_id.clone(),
                            agent_id: Some(task.agent_id.clone()),
                            state: TaskState::TaskKilled,
                            source: Source::Executor,
                            reason: None,
                            uuid: Some(u),
                        }
                    }
                    None => lost(task_id, None, Reason::TaskUnknown),
                });
            }
            Call::Teardown => answer.teardown = true,
            Call::Revive | Call::Suppress | Call::Message => {}
        }
        self.sent(answer.updates.len(), now);
        answer
    }

    /// Counts a call that did not decode, or that is not taken.
    pub fn unknown_call(&mut self) {
        self.counters.unknown_calls += 1;
    }

    /// Counts a call refused for a missing or wrong `Mesos-Stream-Id`.
    pub fn bad_stream_id(&mut self) {
        self.counters.bad_stream_id += 1;
    }

    pub fn subscribed(&mut self) {
        self.counters.subscribes += 1;
    }

    /// Makes `n` tasks `storm-<i>` known and RUNNING, each with an update to
    /// acknowledge; the caller counts them `sent` once they are encoded.
    pub fn storm(&mut self, n: usize, uuid: &mut impl FnMut() -> [u8; 16]) -> Vec<Update> {
        let updates: Vec<Update> = (0..n)
            .map(|i| {
                let task_id = format!("storm-{i}");
                let agent_id = format!("agent-{}", i % 1000);
                let u = uuid();
                let task = self.tasks.entry(task_id.clone()).or_insert_with(|| Task {
                    agent_id: agent_id.clone(),
                    state: TaskState::TaskRunning,
                    outstanding: Vec::new(),
                    acknowledged: Vec::new(),
                });
                task.state = TaskState::TaskRunning;
                task.outstanding.push(u);
                running(task_id, agent_id, u)
            })
            .collect();
        updates
    }

    /// Counts updates handed to the stream (the first one starts the clock).
    pub fn sent(&mut self, n: usize, now: f64) {
        if n > 0 && self.counters.first_update_at.is_none() {
            self.counters.first_update_at = Some(now);
        }
        self.counters.updates_sent += n as u64;
    }

    /// Notes the harness's CPU seconds at the first update sent, once.
    pub fn cpu_at_first_update(&mut self, cpu: f64) {
        let c = &mut self.counters;
        if c.first_update_at.is_some() && c.cpu_at_first_update.is_none() {
            c.cpu_at_first_update = Some(cpu);
        }
    }

    /// Notes that reconciliation answers were handed to the stream.
    pub fn reconcile_answered(&mut self, now: f64) {
        self.counters.last_reconcile_answer_at = Some(now);
    }

    /// Makes one offer for each of `agents` agents, numbered on from the last.
    #[allow(clippy::too_many_arguments)]
    pub fn offers(
        &mut self,
        agents: usize,
        framework_id: &str,
        cpus: f64,
        mem: f64,
        disk: f64,
        ports: u64,
    ) -> Vec<OfferSpec> {
        (0..agents)
            .map(|agent| {
                self.next_offer += 1;
                let id = format!("offer-{}", self.next_offer);
                self.offers.insert(id.clone(), false);
                self.counters.offers_sent += 1;
                OfferSpec {
                    id,
                    framework_id: framework_id.to_owned(),
                    agent,
                    cpus,
                    mem,
                    disk,
                    ports,
                }
            })
            .collect()
    }

    /// Makes `n` tasks `task-<i>` on `agent-<i % agents>` known as RUNNING, all acknowledged.
    pub fn known_tasks(&mut self, n: usize, agents: usize) {
        for i in 0..n {
            self.tasks.insert(
                format!("task-{i}"),
                Task {
                    agent_id: format!("agent-{}", i % agents.max(1)),
                    state: TaskState::TaskRunning,
                    outstanding: Vec::new(),
                    acknowledged: Vec::new(),
                },
            );
        }
    }

    pub fn reset(&mut self) {
        self.counters = Counters::default();
    }

    /// The counters as the JSON of `GET /bench/stats` (the caller adds the process's figures).
    pub fn stats(&self) -> Value {
        let c = &self.counters;
        json!({
            "subscribes": c.subscribes,
            "updates_sent": c.updates_sent,
            "acks_ok": c.acks_ok,
            "acks_duplicate": c.acks_duplicate,
            "acks_bad_uuid": c.acks_bad_uuid,
            "acks_unknown": c.acks_unknown,
            "offers_sent": c.offers_sent,
            "offers_accepted": c.offers_accepted,
            "offers_declined": c.offers_declined,
            "offers_reused": c.offers_reused,
            "launches": c.launches,
            "reconcile_calls": c.reconcile_calls,
            "reconcile_tasks": c.reconcile_tasks,
            "calls_by_type": c.calls_by_type,
            "unknown_calls": c.unknown_calls,
            "bad_stream_id": c.bad_stream_id,
            "first_update_at": c.first_update_at,
            "cpu_at_first_update": c.cpu_at_first_update,
            "last_ack_at": c.last_ack_at,
            "last_accept_at": c.last_accept_at,
            "last_reconcile_answer_at": c.last_reconcile_answer_at,
            "known_tasks": self.tasks.len(),
        })
    }

    fn acknowledge(&mut self, task_id: &str, uuid: &[u8], now: f64) {
        let c = &mut self.counters;
        let Some(task) = self.tasks.get_mut(task_id) else {
            c.acks_unknown += 1;
            return;
        };
        if let Some(i) = task.outstanding.iter().position(|u| u[..] == *uuid) {
            let u = task.outstanding.swap_remove(i);
            task.acknowledged.push(u);
            c.acks_ok += 1;
            c.last_ack_at = Some(now);
        } else if task.acknowledged.iter().any(|u| u[..] == *uuid) {
            c.acks_duplicate += 1;
        } else {
            c.acks_bad_uuid += 1;
        }
    }

    fn use_offer(&mut self, offer_id: &str, accepted: bool) {
        match self.offers.get_mut(offer_id) {
            Some(used @ false) => {
                *used = true;
                if accepted {
                    self.counters.offers_accepted += 1;
                } else {
                    self.counters.offers_declined += 1;
                }
            }
            _ => self.counters.offers_reused += 1,
        }
    }

    fn launch(&mut self, launches: &[Launch], uuid: &mut impl FnMut() -> [u8; 16]) -> Vec<Update> {
        self.counters.launches += launches.len() as u64;
        launches
            .iter()
            .map(|l| {
                let u = uuid();
                self.tasks.insert(
                    l.task_id.clone(),
                    Task {
                        agent_id: l.agent_id.clone(),
                        state: TaskState::TaskRunning,
                        outstanding: vec![u],
                        acknowledged: Vec::new(),
                    },
                );
                running(l.task_id.clone(), l.agent_id.clone(), u)
            })
            .collect()
    }
}

fn running(task_id: String, agent_id: String, uuid: [u8; 16]) -> Update {
    Update {
        task_id,
        agent_id: Some(agent_id),
        state: TaskState::TaskRunning,
        source: Source::Executor,
        reason: None,
        uuid: Some(uuid),
    }
}

/// The master's answer for a known task: its state, no uuid.
fn reconciled(task_id: &str, task: &Task) -> Update {
    Update {
        task_id: task_id.to_owned(),
        agent_id: Some(task.agent_id.clone()),
        state: task.state,
        source: Source::Master,
        reason: Some(Reason::Reconciliation),
        uuid: None,
    }
}

fn lost(task_id: &str, agent_id: Option<&str>, reason: Reason) -> Update {
    Update {
        task_id: task_id.to_owned(),
        agent_id: agent_id.map(str::to_owned),
        state: TaskState::TaskLost,
        source: Source::Master,
        reason: Some(reason),
        uuid: None,
    }
}

fn invalid_offer(launch: &Launch) -> Update {
    lost(
        &launch.task_id,
        Some(&launch.agent_id),
        Reason::InvalidOffers,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuids() -> impl FnMut() -> [u8; 16] {
        let mut n = 0u8;
        move || {
            n += 1;
            [n; 16]
        }
    }

    fn ack(task_id: &str, uuid: [u8; 16]) -> Call {
        Call::Acknowledge {
            task_id: task_id.into(),
            uuid: uuid.to_vec(),
        }
    }

    #[test]
    fn acknowledgements_are_counted_ok_duplicate_bad_or_unknown() {
        let mut ledger = Ledger::default();
        let mut uuid = uuids();
        let updates = ledger.storm(2, &mut uuid);
        ledger.sent(2, 10.0);
        assert_eq!(updates[1].task_id, "storm-1");
        assert_eq!(updates[1].agent_id.as_deref(), Some("agent-1"));
        let first = updates[0].uuid.unwrap();
        ledger.call(&ack("storm-0", first), 11.0, &mut uuid);
        ledger.call(&ack("storm-0", first), 12.0, &mut uuid);
        ledger.call(&ack("storm-1", [99; 16]), 13.0, &mut uuid);
        ledger.call(&ack("nobody", first), 14.0, &mut uuid);
        let c = &ledger.counters;
        assert_eq!(
            (c.acks_ok, c.acks_duplicate, c.acks_bad_uuid, c.acks_unknown),
            (1, 1, 1, 1)
        );
        assert_eq!(c.first_update_at, Some(10.0));
        assert_eq!(c.last_ack_at, Some(11.0));
        assert_eq!(c.updates_sent, 2);
        assert_eq!(c.calls_by_type["ACKNOWLEDGE"], 4);
    }

    #[test]
    fn offers_are_used_once_and_accepts_launch() {
        let mut ledger = Ledger::default();
        let mut uuid = uuids();
        let offers = ledger.offers(3, "fw", 4.0, 1024.0, 0.0, 0);
        let launch = |t: &str| Launch {
            task_id: t.into(),
            agent_id: "agent-0".into(),
        };
        let accept = Call::Accept {
            offer_ids: vec![offers[0].id.clone()],
            launches: vec![launch("t-1"), launch("t-2")],
        };
        let answer = ledger.call(&accept, 5.0, &mut uuid);
        assert_eq!(answer.updates.len(), 2);
        assert!(answer
            .updates
            .iter()
            .all(|u| u.state == TaskState::TaskRunning));
        // The launched tasks' updates want acknowledging.
        ledger.call(&ack("t-2", answer.updates[1].uuid.unwrap()), 6.0, &mut uuid);
        let decline = Call::Decline {
            offer_ids: vec![offers[1].id.clone(), offers[0].id.clone()],
        };
        ledger.call(&decline, 7.0, &mut uuid);
        // An accept of a used offer launches nothing: its tasks are lost.
        let again = Call::Accept {
            offer_ids: vec![offers[1].id.clone()],
            launches: vec![launch("t-3")],
        };
        let answer = ledger.call(&again, 8.0, &mut uuid);
        assert_eq!(answer.updates[0].state, TaskState::TaskLost);
        assert_eq!(answer.updates[0].reason, Some(Reason::InvalidOffers));
        let c = &ledger.counters;
        assert_eq!(c.offers_sent, 3);
        assert_eq!(c.offers_accepted, 1);
        assert_eq!(c.offers_declined, 1);
        assert_eq!(c.offers_reused, 2);
        assert_eq!(c.launches, 2);
        assert_eq!(c.acks_ok, 1);
        assert_eq!(c.last_accept_at, Some(8.0));
    }

    #[test]
    fn reconciliation_answers_known_tasks_running_and_others_lost() {
        let mut ledger = Ledger::default();
        let mut uuid = uuids();
        ledger.known_tasks(3, 2);
        let explicit = Call::Reconcile {
            task_ids: vec!["task-2".into(), "ghost".into()],
        };
        let answer = ledger.call(&explicit, 1.0, &mut uuid);
        assert_eq!(answer.updates.len(), 2);
        assert_eq!(answer.updates[0].state, TaskState::TaskRunning);
        assert_eq!(answer.updates[0].agent_id.as_deref(), Some("agent-0"));
        assert_eq!(answer.updates[0].reason, Some(Reason::Reconciliation));
        assert_eq!(answer.updates[0].source, Source::Master);
        assert!(answer.updates.iter().all(|u| u.uuid.is_none()));
        assert_eq!(answer.updates[1].state, TaskState::TaskLost);
        let implicit = Call::Reconcile { task_ids: vec![] };
        assert_eq!(ledger.call(&implicit, 2.0, &mut uuid).updates.len(), 3);
        assert_eq!(ledger.counters.reconcile_calls, 2);
        assert_eq!(ledger.counters.reconcile_tasks, 5);
    }

    #[test]
    fn kill_answers_killed_with_a_uuid_to_acknowledge() {
        let mut ledger = Ledger::default();
        let mut uuid = uuids();
        ledger.known_tasks(1, 1);
        let answer = ledger.call(
            &Call::Kill {
                task_id: "task-0".into(),
            },
            1.0,
            &mut uuid,
        );
        let killed = &answer.updates[0];
        assert_eq!(killed.state, TaskState::TaskKilled);
        ledger.call(&ack("task-0", killed.uuid.unwrap()), 2.0, &mut uuid);
        assert_eq!(ledger.counters.acks_ok, 1);
        let reconciled = ledger.call(&Call::Reconcile { task_ids: vec![] }, 3.0, &mut uuid);
        assert_eq!(reconciled.updates[0].state, TaskState::TaskKilled);
    }

    #[test]
    fn reset_zeroes_the_counters_and_keeps_the_tasks() {
        let mut ledger = Ledger::default();
        let mut uuid = uuids();
        ledger.storm(5, &mut uuid);
        ledger.unknown_call();
        ledger.reset();
        assert_eq!(ledger.counters.updates_sent, 0);
        assert_eq!(ledger.counters.unknown_calls, 0);
        assert_eq!(ledger.stats()["known_tasks"], 5);
    }
}
