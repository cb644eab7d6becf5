//! The pure transition `step(state, message, now) -> (state', effects)`;
//! `docs/reducer.md` is its specification, transition by transition.
//!
//! The state is updated in place (`&mut State` is the owned form of
//! `State -> State`), and every message is fully validated before anything
//! changes, so that a rejected message leaves the state exactly as it was.
//! Cloning the state to roll back would be simpler, but it would make every
//! persistent map shared and turn each later write into a path copy.

use std::sync::Arc;

// Ids and names only, read from Mesos and the framework: FxHash is several
// times faster than SipHash on them, and 50,000 launches hash a lot.
use rustc_hash::FxHashSet as HashSet;
use serde_bytes::{ByteArray, ByteBuf};

use crate::effects::Effect;
use crate::error::CoreError;
use crate::messages::{Message, TaskStatus};
use crate::reconcile;
use crate::state::{Config, Id, State, Task, TaskId};

mod backoff;
mod demand;
pub mod deployment;
mod failover;
mod maintenance;
mod offers;
mod operation_feedback;
mod pods;
#[cfg(test)]
mod tests;
mod unreachable;
mod update_framework;
mod volumes;

/// The reducer: a state, its configuration, and an interner for the ids and
/// reasons that repeat across millions of records.
#[derive(Clone, Debug, Default)]
pub struct Reducer {
    pub state: State,
    pub config: Config,
    interner: Interner,
}

impl Reducer {
    pub fn new(config: Config) -> Self {
        Reducer {
            state: State::default(),
            config,
            interner: Interner::default(),
        }
    }

    /// Apply one message at time `now`, appending its effects to `out`.
    /// On error nothing changed and nothing was appended.
    pub fn step(
        &mut self,
        message: Message,
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let state = &mut self.state;
        let config = &self.config;
        match message {
            Message::Subscribed {
                framework_id,
                heartbeat_interval_seconds,
            } => {
                let id = self.interner.intern(&framework_id);
                subscribed(state, config, id, heartbeat_interval_seconds, now, out);
            }
            Message::Reregistered => {
                let id = state.framework_id.clone().ok_or_else(|| {
                    CoreError::Message("Reregistered before any framework id is known".into())
                })?;
                let interval = state.heartbeat_interval_seconds;
                subscribed(state, config, id, interval, now, out);
            }
            Message::Offers(offers) => {
                self.offers(offers, now, out);
                let usable = self.state.registered && !self.state.is_reconciling();
                let giving_back =
                    !(self.state.releasing.is_empty() && self.state.stranded.is_empty());
                if usable && giving_back {
                    self.release_volumes(out);
                }
                self.run_matching(now, out);
            }
            Message::Rescind { offer_id } => {
                state.offers.remove(offer_id.as_str());
            }
            Message::Update(status) => {
                // Only while inverse offers are outstanding: updates are the hot path.
                let task_id =
                    (!state.inverse_offers.is_empty()).then(|| TaskId::from(status.task_id));
                self.update(status, now, out)?;
                if let Some(task_id) = task_id {
                    // The task's agent may be empty now: drain it.
                    let task = self.state.tasks.get(task_id.as_str());
                    if let Some(agent) = task.and_then(|t| t.agent_id.clone()) {
                        self.drain(Some(&agent), now, out);
                    }
                }
            }
            Message::FrameworkMessage | Message::Custom => {}
            Message::Heartbeat => state.last_heartbeat_at = Some(now),
            Message::Failure {
                agent_id,
                executor_id,
            } => {
                if executor_id.is_none() {
                    if let Some(agent) = state.agents.get_mut(agent_id.as_str()) {
                        agent.active = false;
                    }
                    let lost: Vec<Id> = state
                        .offers
                        .iter()
                        .filter(|(_, o)| *o.agent_id == *agent_id)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in &lost {
                        state.offers.remove(id);
                    }
                }
            }
            Message::Error { message } => {
                state.error = Some(Arc::from(message));
                disconnected(state);
            }
            Message::Disconnected => disconnected(state),
            Message::ReconcileTick | Message::Reconcile => {
                if state.registered && !state.is_reconciling() {
                    reconcile::start(state, config, now, out);
                    operation_feedback::reconcile(state, out);
                }
            }
            Message::ReconcileTimeout { round } => {
                reconcile::timeout(state, config, round, now, out)
            }
            Message::Tick => {
                self.expire_offers(now, out);
                self.unreachable_tick(now, out);
                self.tick_backoffs(now, out);
                self.drain(None, now, out);
                self.tick_deployments(now, out);
            }
            Message::Accept {
                offer_ids,
                launches,
                refuse_seconds,
                operations,
            } => self.accept(offer_ids, launches, operations, refuse_seconds, now, out)?,
            Message::Decline {
                offer_ids,
                refuse_seconds,
            } => self.decline(offer_ids, refuse_seconds, out)?,
            Message::Kill { task_id } => pods::kill(state, &task_id, out)?,
            Message::Replace { task_id } => self.replace(&task_id, out)?,
            Message::Request { tasks } => self.request(tasks, now, out)?,
            Message::Withdraw { task_ids } => self.withdraw(&task_ids, out),
            Message::Blacklist { agent_ids } => self.blacklist(agent_ids, now, out),
            Message::Track {
                task_id,
                agent_id,
                request,
            } => self.track(&task_id, agent_id.as_deref(), request, now),
            Message::Suppress => {
                if !state.suppressed {
                    state.suppressed = true;
                    out.push(Effect::Suppress);
                }
            }
            Message::Revive => {
                // Always sent: besides ending a suppression, REVIVE clears the
                // refuse filters of earlier declines, which is how a framework
                // gets back agents it declined for a while.
                state.suppressed = false;
                out.push(Effect::Revive);
            }
            Message::SendMessage {
                agent_id,
                executor_id,
                data,
            } => out.push(Effect::Message {
                agent_id,
                executor_id,
                data: ByteBuf::from(data),
            }),
            Message::UpdateFramework {
                roles,
                suppressed_roles,
                capabilities,
                failover_timeout,
            } => update_framework::update_framework(
                state,
                roles,
                suppressed_roles,
                capabilities,
                failover_timeout,
                out,
            )?,
            Message::InverseOffers(inverse_offers) => self.inverse_offers(inverse_offers, now, out),
            Message::RescindInverseOffer { inverse_offer_id } => {
                state.inverse_offers.remove(inverse_offer_id.as_str());
            }
            Message::AcceptInverseOffers {
                inverse_offer_ids,
                refuse_seconds,
            } => self.answer_inverse_offers(inverse_offer_ids, refuse_seconds, true, out)?,
            Message::DeclineInverseOffers {
                inverse_offer_ids,
                refuse_seconds,
            } => self.answer_inverse_offers(inverse_offer_ids, refuse_seconds, false, out)?,
            Message::Deploy {
                group,
                template,
                instances,
                minimum_health_capacity,
                maximum_over_capacity,
                max_failures,
            } => self.deploy(
                group,
                template,
                (
                    instances,
                    minimum_health_capacity,
                    maximum_over_capacity,
                    max_failures,
                ),
                now,
                out,
            )?,
            Message::CancelDeployment { group } => self.cancel_deployment(&group, now, out)?,
            Message::OperationUpdate(status) => self.operation_update(status, out)?,
            Message::ResumeDeployment { group, deployment } => {
                self.resume_deployment(group, deployment)?;
            }
            Message::ResumeRelease {
                persistence_id,
                volume,
            } => self.resume_release(persistence_id, volume, out),
        }
        Ok(())
    }

    fn update(
        &mut self,
        status: TaskStatus,
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let uuid: Option<[u8; 16]> = match status.uuid {
            None => None,
            Some(bytes) => Some(bytes.try_into().map_err(|_| {
                CoreError::Message(format!("a status uuid has 16 bytes, not {}", bytes.len()))
            })?),
        };
        if uuid.is_some() && status.agent_id.is_none() {
            return Err(CoreError::Message(format!(
                "the update of task {:?} has a uuid to acknowledge but no agent_id",
                status.task_id
            )));
        }
        let finished = reconcile::answered(&mut self.state, status.task_id);
        let interner = &mut self.interner;
        let task_id = TaskId::from(status.task_id);
        let mut applied = None;
        if let (Some(uuid), Some(agent_id)) = (uuid, status.agent_id) {
            out.push(Effect::Acknowledge {
                agent_id: interner.intern(agent_id),
                task_id: task_id.clone(),
                uuid: ByteArray::new(uuid),
            });
        }
        match self.state.tasks.get_mut(status.task_id) {
            None => {
                let mut task = Task {
                    agent_id: None,
                    reason: None,
                    message: None,
                    status_timestamp: None,
                    updated_at: now,
                    uuid: None,
                    state: status.state,
                    source: None,
                    unreconciled: false,
                    healthy: None,
                };
                apply(&mut task, &status, uuid, now, interner);
                self.state.tasks.insert(task_id, task);
            }
            Some(task) if task.state.is_terminal() => {
                if !status.state.is_terminal() {
                    // A zombie, e.g. TASK_LOST back after a partition: the
                    // framework has already seen it end.
                    let agent_id = match status.agent_id {
                        Some(id) => Some(interner.intern(id)),
                        None => task.agent_id.clone(),
                    };
                    out.push(Effect::Kill { task_id, agent_id });
                }
            }
            Some(task) => {
                let duplicate = uuid.is_some() && uuid == task.uuid;
                let older = matches!(
                    (status.timestamp, task.status_timestamp),
                    (Some(new), Some(old)) if new < old
                );
                if !duplicate && !older {
                    apply(task, &status, uuid, now, interner);
                    applied = Some(status.state);
                }
            }
        }
        if let Some(task_state) = applied.filter(|&s| backoff::concerns(&self.state, s)) {
            if let Some(group) = self.state.groups.get(status.task_id).cloned() {
                backoff::task_changed(&mut self.state, &self.config, &group, task_state, now);
            }
        }
        // The group of a task whose deployment follows it, read before a
        // terminal state removes it from `groups`.
        let deployed = if self.state.deployments.is_empty() {
            None
        } else {
            self.state
                .groups
                .get(status.task_id)
                .filter(|g| self.state.deployments.contains_key(&***g))
                .cloned()
        };
        if (!self.state.groups.is_empty() || !self.state.requests.is_empty())
            && self
                .state
                .tasks
                .get(status.task_id)
                .is_some_and(|t| t.state.is_terminal())
        {
            self.state.groups.remove(status.task_id);
            self.state.requests.remove(status.task_id);
        }
        if !self.state.strategies.is_empty() {
            self.unreachable_update(status.task_id, now, out);
        }
        if let Some(group) = deployed {
            let applied = applied.map(|s| (s, status.healthy));
            self.deployment_update(&group, status.task_id, applied, now, out);
        }
        if !self.state.stateful.is_empty() {
            self.volume_update(status.task_id, now, out);
        }
        if finished {
            reconcile::finish(&mut self.state, now, out);
        }
        Ok(())
    }
}

fn subscribed(
    state: &mut State,
    config: &Config,
    framework_id: Id,
    heartbeat_interval_seconds: Option<f64>,
    now: f64,
    out: &mut Vec<Effect>,
) {
    state.framework_id = Some(framework_id);
    state.registered = true;
    state.error = None;
    state.heartbeat_interval_seconds = heartbeat_interval_seconds;
    if state.suppressed {
        // A new master does not remember the suppression.
        out.push(Effect::Suppress);
    }
    // A re-subscription while reconciling restarts it from round one.
    reconcile::abort(state);
    reconcile::start(state, config, now, out);
    operation_feedback::reconcile(state, out);
}

fn disconnected(state: &mut State) {
    state.registered = false;
    state.offers = Default::default();
    // Mesos drops a disconnected framework's inverse offers unanswered and
    // makes new ones once it is back.
    state.inverse_offers = Default::default();
    reconcile::abort(state);
}

/// Apply a status to a record (spec, Update step 6).
fn apply(
    task: &mut Task,
    status: &TaskStatus,
    uuid: Option<[u8; 16]>,
    now: f64,
    interner: &mut Interner,
) {
    task.state = status.state;
    task.reason = status.reason.map(|r| interner.intern(r));
    task.source = status.source;
    task.message = status.message.map(Arc::from);
    if let Some(agent_id) = status.agent_id {
        if task.agent_id.as_deref() != Some(agent_id) {
            task.agent_id = Some(interner.intern(agent_id));
        }
    }
    if uuid.is_some() {
        task.uuid = uuid;
    }
    // Only an agent's update (it has a uuid) dates the state change: the
    // master stamps its own answers (reconciliation, invalid offers) with the
    // time it answers, which would make the agent's pending updates look stale.
    if uuid.is_some() && status.timestamp.is_some() {
        task.status_timestamp = status.timestamp;
    }
    // A status without a check result (TASK_KILLING, or a task whose check
    // has not run yet) says nothing about health: the last result stands.
    if status.healthy.is_some() {
        task.healthy = status.healthy;
    }
    task.updated_at = now;
    task.unreconciled = false;
}

/// Shares one allocation among equal ids and reasons.
#[derive(Clone, Debug, Default)]
struct Interner(HashSet<Id>);

impl Interner {
    fn intern(&mut self, s: &str) -> Id {
        if let Some(id) = self.0.get(s) {
            return id.clone();
        }
        let id: Id = Arc::from(s);
        self.0.insert(id.clone());
        id
    }
}
