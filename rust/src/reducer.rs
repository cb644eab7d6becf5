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

use crate::effects::{Effect, LaunchTask};
use crate::error::CoreError;
use crate::matching;
use crate::messages::{Launch, Message, Offer as OfferMessage, TaskStatus};
use crate::reconcile;
use crate::resources;
use crate::state::{Agent, Config, Id, Offer, State, Task, TaskId};

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
                self.run_matching(now, out);
            }
            Message::Rescind { offer_id } => {
                state.offers.remove(offer_id.as_str());
            }
            Message::Update(status) => self.update(status, now, out)?,
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
                }
            }
            Message::ReconcileTimeout { round } => {
                reconcile::timeout(state, config, round, now, out)
            }
            Message::Tick => expire_offers(state, config, now, out),
            Message::Accept {
                offer_ids,
                launches,
                refuse_seconds,
            } => self.accept(offer_ids, launches, refuse_seconds, now, out)?,
            Message::Decline {
                offer_ids,
                refuse_seconds,
            } => decline(state, offer_ids, refuse_seconds, out)?,
            Message::Kill { task_id } => {
                let (id, task) = state
                    .tasks
                    .get_key_value(task_id.as_str())
                    .ok_or_else(|| CoreError::Rejected(format!("no task {task_id:?} to kill")))?;
                if !task.state.is_terminal() {
                    out.push(Effect::Kill {
                        task_id: id.clone(),
                        agent_id: task.agent_id.clone(),
                    });
                }
            }
            Message::Request { tasks } => self.request(tasks, now, out)?,
            Message::Withdraw { task_ids } => self.withdraw(&task_ids, out),
            Message::Blacklist { mut agent_ids } => {
                agent_ids.sort_unstable();
                agent_ids.dedup();
                self.state.blacklist = Arc::new(agent_ids);
                self.run_matching(now, out);
            }
            Message::Track { task_id, agent_id } => {
                if state.tasks.get(task_id.as_str()).is_none() {
                    let agent_id = agent_id.map(|a| self.interner.intern(&a));
                    state
                        .tasks
                        .insert(TaskId::from(task_id.as_str()), Task::staging(agent_id, now));
                }
            }
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
        }
        Ok(())
    }

    fn offers(&mut self, offers: Vec<OfferMessage>, now: f64, out: &mut Vec<Effect>) {
        let decline_all = self.state.is_reconciling() || !self.state.registered;
        let mut seen: HashSet<Id> =
            HashSet::with_capacity_and_hasher(offers.len(), Default::default());
        let mut declined: Vec<Id> = Vec::new();
        // Taken by value: the resources and attributes move into the state.
        for offer in offers {
            let agent_id = self.interner.intern(&offer.agent_id);
            let hostname = self.interner.intern(&offer.hostname);
            self.state.agents.insert(
                agent_id.clone(),
                Agent {
                    hostname: Some(hostname.clone()),
                    active: true,
                },
            );
            let id = Id::from(offer.id.as_str());
            if !seen.insert(id.clone()) || self.state.offers.contains_key(&*id) {
                continue;
            }
            if decline_all {
                declined.push(id);
            } else {
                self.state.offers.insert(
                    id,
                    Arc::new(Offer {
                        agent_id,
                        hostname,
                        resources: offer.resources,
                        attributes: offer.attributes,
                        received_at: now,
                    }),
                );
            }
        }
        if !declined.is_empty() {
            declined.sort_unstable();
            reconcile::decline(&mut self.state, &self.config, declined, out);
        }
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
                }
            }
        }
        if !self.state.groups.is_empty()
            && self
                .state
                .tasks
                .get(status.task_id)
                .is_some_and(|t| t.state.is_terminal())
        {
            self.state.groups.remove(status.task_id);
        }
        if finished {
            reconcile::finish(&mut self.state, now, out);
        }
        Ok(())
    }

    /// Add task requests to the demand (see docs/reducer.md, **Request**).
    fn request(
        &mut self,
        tasks: Vec<(String, Vec<u8>)>,
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let state = &mut self.state;
        let mut ids: HashSet<&str> =
            HashSet::with_capacity_and_hasher(tasks.len(), Default::default());
        for (id, _) in &tasks {
            if !ids.insert(id) {
                return Err(CoreError::Rejected(format!(
                    "task {id:?} appears twice in one Request"
                )));
            }
            if state.tasks.contains_key(id.as_str()) {
                return Err(CoreError::Rejected(format!(
                    "task {id:?} is already known: a task id is launched once"
                )));
            }
        }
        if state.demand.iter().any(|(id, _)| ids.contains(id.as_str())) {
            return Err(CoreError::Rejected(
                "a requested task id is already requested".into(),
            ));
        }
        if tasks.is_empty() {
            return Ok(());
        }
        let was_empty = state.demand.is_empty();
        for (id, bytes) in tasks {
            state.demand.push_back((TaskId::from(id), Arc::from(bytes)));
        }
        if was_empty {
            // Demand appears: offers are wanted again, and the refuse filters
            // of earlier declines must not hide any agent.
            state.suppressed = false;
            out.push(Effect::Revive);
        }
        self.run_matching(now, out);
        Ok(())
    }

    /// Drop requests not yet placed (see docs/reducer.md, **Withdraw**).
    fn withdraw(&mut self, task_ids: &[String], out: &mut Vec<Effect>) {
        let state = &mut self.state;
        if state.demand.is_empty() {
            return;
        }
        let gone: HashSet<&str> = task_ids.iter().map(String::as_str).collect();
        state.demand.retain(|(id, _)| !gone.contains(id.as_str()));
        for id in &gone {
            state.pending_reasons.remove(*id);
        }
        if state.demand.is_empty() && !state.suppressed {
            state.suppressed = true;
            out.push(Effect::Suppress);
        }
    }

    /// One matching cycle over the outstanding offers, when there is demand
    /// and the framework may use offers (see docs/matching.md).
    fn run_matching(&mut self, now: f64, out: &mut Vec<Effect>) {
        // A request whose id became known meanwhile (a Track from the store)
        // is not launched again.
        if !self.state.demand.is_empty() {
            let tasks = &self.state.tasks;
            let known: Vec<TaskId> = self
                .state
                .demand
                .iter()
                .filter(|(id, _)| tasks.contains_key(id.as_str()))
                .map(|(id, _)| id.clone())
                .collect();
            if !known.is_empty() {
                self.state.demand.retain(|(id, _)| !known.contains(id));
            }
        }
        let state = &self.state;
        if state.demand.is_empty()
            || state.offers.is_empty()
            || !state.registered
            || state.is_reconciling()
        {
            return;
        }
        let requests: Vec<matching::TaskRequest<'_>> = state
            .demand
            .iter()
            .map(|(_, bytes)| {
                rmp_serde::from_slice(bytes).expect("requests are stored as they were decoded")
            })
            .collect();
        let offered: HashSet<&str> = state.offers.values().map(|o| &*o.agent_id).collect();
        let input = matching::MatchInput {
            offers: state
                .offers
                .iter()
                .map(|(id, o)| matching::MatchOffer {
                    id,
                    agent_id: &o.agent_id,
                    hostname: &o.hostname,
                    resources: o.resources.iter().map(Into::into).collect(),
                    attributes: o.attributes.iter().map(Into::into).collect(),
                })
                .collect(),
            requests,
            strategy: &self.config.matching_strategy,
            blacklist: state.blacklist.iter().map(String::as_str).collect(),
            existing: state
                .groups
                .iter()
                .filter_map(|(task_id, group)| {
                    let agent = state.tasks.get(task_id.as_str())?.agent_id.as_deref()?;
                    Some(matching::Existing {
                        group,
                        agent_id: agent,
                    })
                })
                .collect(),
            agents: state
                .agents
                .iter()
                .filter(|(id, _)| !offered.contains(&***id))
                .filter_map(|(id, a)| {
                    Some(matching::AgentInfo {
                        agent_id: id,
                        hostname: a.hostname.as_deref()?,
                        attributes: Vec::new(),
                    })
                })
                .collect(),
        };
        let decisions = match matching::match_offers(&input) {
            Ok(d) => d,
            // The strategy is checked when the config is read: unreachable.
            Err(_) => return,
        };
        let interner = &mut self.interner;
        let groups: Vec<(TaskId, Id)> = input
            .requests
            .iter()
            .map(|r| (TaskId::from(r.task_id), interner.intern(r.group)))
            .collect();
        let placed: HashSet<&str> = decisions
            .accepts
            .iter()
            .flat_map(|p| p.launches.iter().map(|l| l.task_id))
            .collect();
        // Every request placed: the framework wants nothing more for now.
        let refuse_seconds = self.config.refuse_seconds(decisions.pending.is_empty());
        let mut effects = Vec::new();
        let mut new_tasks = Vec::new();
        for p in &decisions.accepts {
            let agent_id = self.interner.intern(p.agent_id);
            let launches = p
                .launches
                .iter()
                .map(|l| LaunchTask {
                    task_id: l.task_id.to_owned(),
                    agent_id: agent_id.clone(),
                    name: l.name.to_owned(),
                    resources: l
                        .resources()
                        .map(|r| crate::messages::Resource {
                            name: r.name.to_owned(),
                            scalar: r.scalar,
                            ranges: r.ranges.map(<[_]>::to_vec),
                            set: r.set.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
                            role: r.role.to_owned(),
                        })
                        .collect(),
                    payload: ByteBuf::from(l.payload.to_vec()),
                    named_ports: l
                        .named_ports
                        .iter()
                        .map(|&(name, port)| (name.to_owned(), port))
                        .collect(),
                })
                .collect::<Vec<_>>();
            for l in &launches {
                new_tasks.push((TaskId::from(l.task_id.as_str()), agent_id.clone()));
            }
            effects.push(Effect::Accept {
                offer_ids: p.offer_ids.iter().map(|&id| id.to_owned()).collect(),
                agent_id,
                launches,
                refuse_seconds,
            });
        }
        let reasons: Vec<(TaskId, Arc<str>)> = decisions
            .pending
            .iter()
            .map(|p| (TaskId::from(p.task_id), Arc::from(p.reason.as_str())))
            .collect();
        let used: Vec<String> = decisions
            .accepts
            .iter()
            .flat_map(|p| p.offer_ids.iter())
            .chain(decisions.declines.iter())
            .map(|&id| id.to_owned())
            .collect();
        let declines: Vec<Id> = decisions.declines.iter().map(|&id| Id::from(id)).collect();
        let placed: HashSet<TaskId> = placed.into_iter().map(TaskId::from).collect();
        drop(decisions);
        drop(input);

        let state = &mut self.state;
        for id in &used {
            state.offers.remove(id.as_str());
        }
        for (task_id, agent_id) in new_tasks {
            state
                .tasks
                .insert(task_id, Task::staging(Some(agent_id), now));
        }
        for (task_id, group) in groups {
            if placed.contains(&task_id) {
                state.groups.insert(task_id, group);
            }
        }
        state.demand.retain(|(id, _)| !placed.contains(id));
        state.pending_reasons = reasons.into_iter().collect();
        out.extend(effects);
        if !declines.is_empty() {
            out.push(Effect::Decline {
                offer_ids: declines,
                refuse_seconds,
            });
        }
        if state.demand.is_empty() && !state.suppressed {
            state.suppressed = true;
            out.push(Effect::Suppress);
        }
    }

    fn accept(
        &mut self,
        offer_ids: Vec<String>,
        launches: Vec<Launch>,
        refuse_seconds: f64,
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let state = &mut self.state;
        if offer_ids.is_empty() {
            return Err(CoreError::Rejected("Accept names no offer".into()));
        }
        if launches.is_empty() {
            return Err(CoreError::Rejected("Accept launches no task".into()));
        }
        let offers = outstanding(state, &offer_ids)?;
        let agent_id = offers[0].agent_id.clone();
        if let Some(other) = offers.iter().find(|o| o.agent_id != agent_id) {
            return Err(CoreError::Rejected(format!(
                "Accept combines offers of agents {:?} and {:?}",
                &*agent_id, &*other.agent_id
            )));
        }
        let mut task_ids: HashSet<&str> =
            HashSet::with_capacity_and_hasher(launches.len(), Default::default());
        for launch in &launches {
            if state.demand.iter().any(|(id, _)| *id == launch.task_id) {
                return Err(CoreError::Rejected(format!(
                    "task {:?} is requested from the matcher: withdraw it first",
                    launch.task_id
                )));
            }
            if !task_ids.insert(&launch.task_id) {
                return Err(CoreError::Rejected(format!(
                    "task {:?} appears twice in one Accept",
                    launch.task_id
                )));
            }
            if state.tasks.contains_key(launch.task_id.as_str()) {
                return Err(CoreError::Rejected(format!(
                    "task {:?} is already known: a task id is launched once",
                    launch.task_id
                )));
            }
        }
        resources::check_fit(&offers, &launches).map_err(CoreError::Rejected)?;

        for id in &offer_ids {
            state.offers.remove(id.as_str());
        }
        let mut launched = Vec::with_capacity(launches.len());
        for launch in launches {
            state.tasks.insert(
                TaskId::from(launch.task_id.as_str()),
                Task::staging(Some(agent_id.clone()), now),
            );
            launched.push(LaunchTask {
                task_id: launch.task_id,
                agent_id: agent_id.clone(),
                name: launch.name,
                resources: launch.resources,
                payload: ByteBuf::from(launch.payload),
                named_ports: launch.named_ports,
            });
        }
        out.push(Effect::Accept {
            offer_ids,
            agent_id,
            launches: launched,
            refuse_seconds,
        });
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
}

fn disconnected(state: &mut State) {
    state.registered = false;
    state.offers = Default::default();
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
    task.updated_at = now;
    task.unreconciled = false;
}

/// The outstanding offers named by `ids`, or why not.
fn outstanding(state: &State, ids: &[String]) -> Result<Vec<Arc<Offer>>, CoreError> {
    let mut seen: HashSet<&str> = HashSet::with_capacity_and_hasher(ids.len(), Default::default());
    ids.iter()
        .map(|id| {
            if !seen.insert(id) {
                return Err(CoreError::Rejected(format!("offer {id:?} is named twice")));
            }
            state
                .offers
                .get(id.as_str())
                .cloned()
                .ok_or_else(|| CoreError::Rejected(format!("offer {id:?} is not outstanding")))
        })
        .collect()
}

fn decline(
    state: &mut State,
    mut offer_ids: Vec<String>,
    refuse_seconds: f64,
    out: &mut Vec<Effect>,
) -> Result<(), CoreError> {
    if offer_ids.is_empty() {
        return Err(CoreError::Rejected("Decline names no offer".into()));
    }
    outstanding(state, &offer_ids)?;
    for id in &offer_ids {
        state.offers.remove(id.as_str());
    }
    offer_ids.sort_unstable();
    out.push(Effect::Decline {
        offer_ids: offer_ids.iter().map(|id| Id::from(id.as_str())).collect(),
        refuse_seconds,
    });
    Ok(())
}

/// Decline the offers held longer than `offer_hold_seconds`.
fn expire_offers(state: &mut State, config: &Config, now: f64, out: &mut Vec<Effect>) {
    let expired: Vec<Id> = state
        .offers
        .iter()
        .filter(|(_, o)| o.received_at + config.offer_hold_seconds <= now)
        .map(|(id, _)| id.clone())
        .collect();
    if expired.is_empty() {
        return;
    }
    for id in &expired {
        state.offers.remove(id);
    }
    // Suppressed with no demand: the framework wants nothing.
    let idle = state.demand.is_empty() && state.suppressed;
    out.push(Effect::Decline {
        offer_ids: expired,
        refuse_seconds: config.refuse_seconds(idle),
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Resource, Source, TaskState};
    use crate::state::Phase;

    fn cpus(amount: f64) -> Resource {
        Resource {
            name: "cpus".into(),
            scalar: Some(amount),
            ranges: None,
            set: None,
            role: "*".into(),
        }
    }

    fn ports(lo: i64, hi: i64) -> Resource {
        Resource {
            name: "ports".into(),
            scalar: None,
            ranges: Some(vec![(lo, hi)]),
            set: None,
            role: "*".into(),
        }
    }

    fn offer(id: &str, agent: &str, resources: Vec<Resource>) -> OfferMessage {
        OfferMessage {
            id: id.into(),
            agent_id: agent.into(),
            hostname: format!("{agent}.example"),
            resources,
            attributes: vec![],
        }
    }

    fn launch(task: &str, resources: Vec<Resource>) -> Launch {
        Launch {
            task_id: task.into(),
            name: String::new(),
            resources,
            payload: vec![],
            named_ports: vec![],
        }
    }

    fn status(task: &str, state: TaskState) -> TaskStatus<'_> {
        TaskStatus {
            task_id: task,
            state,
            agent_id: Some("a1"),
            executor_id: None,
            reason: None,
            source: Some(Source::Agent),
            message: None,
            uuid: None,
            timestamp: None,
            healthy: None,
        }
    }

    fn step(r: &mut Reducer, m: Message<'_>, now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        r.step(m, now, &mut out).expect("step");
        out
    }

    fn subscribed() -> Message<'static> {
        Message::Subscribed {
            framework_id: "fw".into(),
            heartbeat_interval_seconds: Some(15.0),
        }
    }

    /// Subscribed, with task `t1` running on `a1` and reconciliation done.
    fn running() -> Reducer {
        let mut r = Reducer::default();
        step(&mut r, subscribed(), 0.0);
        step(
            &mut r,
            Message::Offers(vec![offer("o1", "a1", vec![cpus(4.0)])]),
            1.0,
        );
        step(
            &mut r,
            Message::Accept {
                offer_ids: vec!["o1".into()],
                launches: vec![launch("t1", vec![cpus(1.0)])],
                refuse_seconds: 5.0,
            },
            2.0,
        );
        step(
            &mut r,
            Message::Update(status("t1", TaskState::Running)),
            3.0,
        );
        r
    }

    #[test]
    fn accept_launches_and_uses_the_offer_once() {
        let mut r = running();
        assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Running);
        assert!(r.state.offers.is_empty());
        let mut out = Vec::new();
        let again = Message::Accept {
            offer_ids: vec!["o1".into()],
            launches: vec![launch("t2", vec![])],
            refuse_seconds: 5.0,
        };
        assert!(matches!(
            r.step(again, 4.0, &mut out),
            Err(CoreError::Rejected(_))
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn rejected_accept_changes_nothing() {
        let mut r = Reducer::default();
        step(&mut r, subscribed(), 0.0);
        step(
            &mut r,
            Message::Offers(vec![offer("o1", "a1", vec![cpus(1.0), ports(100, 199)])]),
            1.0,
        );
        let before = r.state.clone();
        for launches in [
            vec![launch("t1", vec![cpus(1.5)])],
            vec![launch("t1", vec![ports(150, 250)])],
            vec![
                launch("t1", vec![ports(100, 120)]),
                launch("t2", vec![ports(120, 130)]),
            ],
            vec![launch("t1", vec![]), launch("t1", vec![])],
            vec![launch("t1", vec![cpus(-1.0)])],
            vec![],
        ] {
            let mut out = Vec::new();
            let accept = Message::Accept {
                offer_ids: vec!["o1".into()],
                launches,
                refuse_seconds: 5.0,
            };
            assert!(matches!(
                r.step(accept, 2.0, &mut out),
                Err(CoreError::Rejected(_))
            ));
            assert!(out.is_empty());
            assert_eq!(r.state, before);
        }
    }

    #[test]
    fn every_uuid_is_acknowledged_and_duplicates_do_not_apply() {
        let mut r = running();
        let mut update = status("t1", TaskState::Finished);
        update.uuid = Some(&[7; 16]);
        let out = step(&mut r, Message::Update(update.clone()), 5.0);
        assert!(matches!(&out[..], [Effect::Acknowledge { task_id, .. }] if &**task_id == "t1"));
        assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Finished);
        let out = step(&mut r, Message::Update(update), 6.0);
        assert_eq!(out.len(), 1, "a retried update is acknowledged again");
        assert_eq!(r.state.tasks.get("t1").unwrap().updated_at, 5.0);
    }

    #[test]
    fn a_terminal_task_coming_back_is_killed_not_revived() {
        let mut r = running();
        step(&mut r, Message::Update(status("t1", TaskState::Lost)), 5.0);
        let out = step(
            &mut r,
            Message::Update(status("t1", TaskState::Running)),
            6.0,
        );
        assert_eq!(
            out,
            vec![Effect::Kill {
                task_id: "t1".into(),
                agent_id: Some("a1".into())
            }]
        );
        assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Lost);
    }

    #[test]
    fn an_older_status_does_not_overwrite_a_newer_one() {
        let mut r = running();
        let mut newer = status("t1", TaskState::Killing);
        newer.timestamp = Some(10.0);
        newer.uuid = Some(&[1; 16]);
        let mut older = status("t1", TaskState::Running);
        older.timestamp = Some(9.0);
        older.uuid = Some(&[2; 16]);
        step(&mut r, Message::Update(newer), 5.0);
        step(&mut r, Message::Update(older), 6.0);
        assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Killing);
    }

    #[test]
    fn a_tracked_task_is_reconciled_and_a_known_one_untouched() {
        let mut r = running();
        let before = r.state.tasks.get("t1").unwrap().clone();
        let track = |id: &str| Message::Track {
            task_id: id.into(),
            agent_id: Some("a2".into()),
        };
        assert_eq!(step(&mut r, track("t1"), 5.0), vec![]);
        assert_eq!(*r.state.tasks.get("t1").unwrap(), before);
        assert_eq!(step(&mut r, track("t9"), 6.0), vec![]);
        let t9 = r.state.tasks.get("t9").unwrap();
        assert_eq!(t9.state, TaskState::Staging);
        assert_eq!(t9.agent_id.as_deref(), Some("a2"));
    }

    #[test]
    fn a_master_answer_does_not_make_the_agents_pending_updates_stale() {
        // After a master failover the reconciliation answer (no uuid, stamped
        // when the master answers) can come before the agent's own RUNNING.
        let mut r = running();
        let mut answer = status("t1", TaskState::Starting);
        answer.timestamp = Some(20.0);
        answer.source = Some(Source::Master);
        let mut pending = status("t1", TaskState::Running);
        pending.timestamp = Some(15.0);
        pending.uuid = Some(&[3; 16]);
        step(&mut r, Message::Update(answer), 5.0);
        step(&mut r, Message::Update(pending), 6.0);
        assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Running);
    }

    #[test]
    fn malformed_updates_are_errors_that_change_nothing() {
        let mut r = running();
        let before = r.state.clone();
        let mut short_uuid = status("t1", TaskState::Failed);
        short_uuid.uuid = Some(&[1, 2, 3]);
        let mut no_agent = status("t1", TaskState::Failed);
        no_agent.uuid = Some(&[1; 16]);
        no_agent.agent_id = None;
        for bad in [short_uuid, no_agent] {
            let mut out = Vec::new();
            assert!(matches!(
                r.step(Message::Update(bad), 5.0, &mut out),
                Err(CoreError::Message(_))
            ));
            assert!(out.is_empty());
            assert_eq!(r.state, before);
        }
    }

    #[test]
    fn disconnection_voids_offers_and_aborts_reconciliation() {
        let mut r = running();
        step(
            &mut r,
            Message::Offers(vec![offer("o2", "a1", vec![])]),
            4.0,
        );
        step(&mut r, Message::ReconcileTick, 5.0);
        assert!(r.state.is_reconciling());
        step(&mut r, Message::Disconnected, 6.0);
        assert!(!r.state.registered && r.state.offers.is_empty());
        assert_eq!(r.state.reconciliation.phase, Phase::Idle);
    }

    #[test]
    fn tick_declines_offers_held_too_long() {
        let mut r = Reducer::default();
        step(&mut r, subscribed(), 0.0);
        step(
            &mut r,
            Message::Offers(vec![offer("o2", "a1", vec![]), offer("o1", "a2", vec![])]),
            1.0,
        );
        step(
            &mut r,
            Message::Offers(vec![offer("o3", "a3", vec![])]),
            4.0,
        );
        let out = step(&mut r, Message::Tick, 6.0);
        assert_eq!(
            out,
            vec![Effect::Decline {
                offer_ids: vec!["o1".into(), "o2".into()],
                refuse_seconds: 5.0
            }]
        );
        assert_eq!(r.state.offers.len(), 1);
    }

    #[test]
    fn suppression_is_idempotent_and_restated_to_a_new_master() {
        let mut r = Reducer::default();
        step(&mut r, subscribed(), 0.0);
        assert_eq!(step(&mut r, Message::Suppress, 1.0), vec![Effect::Suppress]);
        assert_eq!(step(&mut r, Message::Suppress, 2.0), vec![]);
        let out = step(&mut r, subscribed(), 3.0);
        assert_eq!(out[0], Effect::Suppress);
        assert_eq!(step(&mut r, Message::Revive, 4.0), vec![Effect::Revive]);
        assert_eq!(step(&mut r, Message::Revive, 5.0), vec![Effect::Revive]);
        assert!(!r.state.suppressed);
    }
}
