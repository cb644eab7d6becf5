//! Demand: the task requests the matcher places, and the matching cycle
//! that places them (see docs/reducer.md, **Request**, **Withdraw**,
//! **Blacklist** and **match**).

use std::sync::Arc;

use imbl::OrdMap;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_bytes::ByteBuf;

use super::{backoff, failover, volumes, Interner, Reducer};
use crate::effects::{AcceptOffers, Effect, LaunchTask};
use crate::error::CoreError;
use crate::matching::{self, Decisions, MatchInput, OutLaunch};
use crate::messages::{PodTask, Resource};
use crate::request::RequestResource;
use crate::request::StoredRequest;
use crate::state::{Config, Id, State, Task, TaskId};

impl Reducer {
    /// Add task requests to the demand (see docs/reducer.md, **Request**).
    pub(super) fn request(
        &mut self,
        tasks: Vec<StoredRequest>,
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let state = &mut self.state;
        let mut ids: HashSet<&str> =
            HashSet::with_capacity_and_hasher(tasks.len(), Default::default());
        // A pod claims its own id and its members'.
        let claimed = tasks
            .iter()
            .flat_map(|t| std::iter::once(&*t.task_id).chain(t.member_ids()));
        for id in claimed {
            if !ids.insert(id) {
                return Err(CoreError::Rejected(format!(
                    "task {id:?} appears twice in one Request"
                )));
            }
            if state.tasks.contains_key(id) {
                return Err(CoreError::Rejected(format!(
                    "task {id:?} is already known: a task id is launched once"
                )));
            }
        }
        if state
            .demand
            .iter()
            .any(|(id, r)| ids.contains(id.as_str()) || r.member_ids().any(|m| ids.contains(m)))
        {
            return Err(CoreError::Rejected(
                "a requested task id is already requested".into(),
            ));
        }
        if tasks.is_empty() {
            return Ok(());
        }
        let was_empty = state.demand.is_empty();
        for request in tasks {
            state.retally(&request.task_id, Some(request.group()));
            state
                .demand
                .push_back((TaskId::from(&*request.task_id), Arc::new(request)));
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
    pub(super) fn withdraw(&mut self, task_ids: &[String], out: &mut Vec<Effect>) {
        let state = &mut self.state;
        if state.demand.is_empty() {
            return;
        }
        let gone: HashSet<&str> = task_ids.iter().map(String::as_str).collect();
        state.demand.retain(|(id, _)| !gone.contains(id.as_str()));
        for id in &gone {
            state.pending_reasons.remove(*id);
            state.stateful.remove(*id);
            state.retally(id, None);
        }
        if !state.wants_offers() && !state.suppressed {
            state.suppressed = true;
            out.push(Effect::Suppress);
        }
    }

    /// Replace the agents the matcher must not use, then match again: a
    /// shorter list may free agents for the demand.
    pub(super) fn blacklist(
        &mut self,
        mut agent_ids: Vec<String>,
        now: f64,
        out: &mut Vec<Effect>,
    ) {
        agent_ids.sort_unstable();
        agent_ids.dedup();
        self.state.blacklist = Arc::new(agent_ids);
        self.run_matching(now, out);
    }

    /// One matching cycle over the outstanding offers, when there is demand
    /// and the framework may use offers (see docs/matching.md).
    pub(super) fn run_matching(&mut self, now: f64, out: &mut Vec<Effect>) {
        forget_known_requests(&mut self.state);
        let state = &self.state;
        if state.demand.is_empty()
            || state.offers.is_empty()
            || !state.registered
            || state.is_reconciling()
        {
            return;
        }
        let mut held: Vec<(TaskId, Arc<str>)> = if state.backoffs.is_empty() {
            Vec::new()
        } else {
            let reason: Arc<str> = Arc::from(backoff::REASON);
            state
                .demand
                .iter()
                .filter(|(_, r)| backoff::holds(state, r.group(), now))
                .map(|(id, _)| (id.clone(), reason.clone()))
                .collect()
        };
        if !state.stateful.is_empty() || !state.volumes.is_empty() {
            held.extend(volumes::waiting(state));
        }
        let mut input = matching_input(state, &self.config, &held);
        // Under the drain policy, agents under maintenance are kept out.
        input.blacklist.extend(super::maintenance::draining_agents(
            state,
            &self.config,
            now,
        ));
        let decisions = matching::match_offers(&input);
        let mut cycle = Cycle::decided(
            &input,
            &decisions,
            &held,
            &state.pending_reasons,
            &self.config,
            &mut self.interner,
        );
        drop(input);
        volumes::plan(&self.state, &mut cycle.accepts);
        cycle.commit(&mut self.state, now, out);
    }
}

/// A request whose id became known meanwhile (a Track from the store) is
/// not launched again.
fn forget_known_requests(state: &mut State) {
    if !state.demand.is_empty() {
        let tasks = &state.tasks;
        let known: Vec<TaskId> = state
            .demand
            .iter()
            .filter(|(id, r)| {
                tasks.contains_key(id.as_str()) || r.member_ids().any(|m| tasks.contains_key(m))
            })
            .map(|(id, _)| id.clone())
            .collect();
        if !known.is_empty() {
            state.demand.retain(|(id, _)| !known.contains(id));
            for id in &known {
                state.retally(id, None);
            }
        }
    }
}

/// The matcher's input, borrowed from the state: the demand, the
/// outstanding offers, the blacklist, the live tasks it placed, and the
/// agents without an offer now that such tasks may run on.
/// Requests `held` back (launch backoff, a volume not offered) are left out.
fn matching_input<'s>(
    state: &'s State,
    config: &'s Config,
    held: &[(TaskId, Arc<str>)],
) -> MatchInput<'s> {
    let requests: Vec<matching::TaskRequest<'_>> = state
        .demand
        .iter()
        .filter(|(id, _)| !held.iter().any(|(h, _)| h == id))
        .map(|(_, r)| volumes::view(state, r))
        .collect();
    let offered: HashSet<&str> = state.offers.values().map(|o| &*o.agent_id).collect();
    // Only the groups a request counts (UNIQUE, MAX_PER, GROUP_BY) need their
    // tasks' agents: reading every grouped task on every cycle cost an offer
    // 29 ms at 100,000 tasks (`bench/deployment.py`).
    let counting: HashSet<&str> = requests
        .iter()
        .filter(|r| r.constraints.iter().any(|c| c.operator.counts()))
        .map(|r| r.group)
        .collect();
    let mut counted_pods: HashSet<&str> = HashSet::default();
    let mut existing = if counting.is_empty() {
        Vec::new()
    } else {
        state
            .groups
            .iter()
            .filter(|(_, group)| counting.contains(&***group))
            .filter_map(|(task_id, group)| {
                let agent = state.tasks.get(task_id.as_str())?.agent_id.as_deref()?;
                // A pod counts once, however many of its members live.
                if let Some(pod) = state.pods.get(task_id) {
                    if !counted_pods.insert(&**pod) {
                        return None;
                    }
                }
                Some(matching::Existing {
                    group,
                    agent_id: agent,
                    volume: None,
                })
            })
            .collect()
    };
    if !counting.is_empty() && !state.volumes.is_empty() {
        held_volumes(state, &counting, &mut existing);
    }
    MatchInput {
        offers: state
            .offers
            .iter()
            .map(|(id, o)| matching::MatchOffer {
                id,
                agent_id: &o.agent_id,
                hostname: &o.hostname,
                // A request asks for plain resources: what is reserved, or
                // a volume, is for the framework's operations and launches.
                resources: o
                    .resources
                    .iter()
                    .filter(|r| r.reservations.is_empty() && r.persistence_id.is_none())
                    .map(Into::into)
                    .collect(),
                attributes: o.attributes.iter().map(Into::into).collect(),
                role: o.role.as_deref(),
                unavailability: o.unavailability,
            })
            .collect(),
        requests,
        strategy: config.matching_strategy,
        blacklist: state.blacklist.iter().map(String::as_str).collect(),
        existing,
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
    }
}

/// The known volumes of the counted groups' requests (in demand or of a
/// tracked task), each where it is held: a replica whose task is down keeps
/// its place, as Marathon counts reserved resident tasks toward constraints.
/// A volume a live task runs on is counted by that task already.
fn held_volumes<'s>(
    state: &'s State,
    counting: &HashSet<&str>,
    existing: &mut Vec<matching::Existing<'s>>,
) {
    let tracked = state.stateful.iter().map(|(id, r)| (Some(id), r));
    let demand = state.demand.iter().map(|(_, r)| (None, r));
    let mut seen: HashSet<&str> = HashSet::default();
    for (task_id, r) in tracked.chain(demand) {
        let Some(volume) = r.volume.as_deref() else {
            continue;
        };
        let pid = volume.persistence_id.as_str();
        let Some(known) = state.volumes.get(pid) else {
            continue;
        };
        if !counting.contains(r.group()) || !seen.insert(pid) {
            continue;
        }
        let live = task_id.is_some_and(|id| {
            state.groups.contains_key(id)
                && state
                    .tasks
                    .get(id.as_str())
                    .is_some_and(|t| t.agent_id.is_some())
        });
        if !live {
            existing.push(matching::Existing {
                group: r.group(),
                agent_id: &known.agent_id,
                volume: Some(pid),
            });
        }
    }
}

/// What a cycle decided, owned: its effects and the changes it makes to the
/// state it was read from.
struct Cycle {
    /// One ACCEPT per agent used.
    accepts: Vec<Effect>,
    /// Each task launched, with its agent.
    launched: Vec<(TaskId, Id)>,
    /// Each placed task's group (each member's, for a pod).
    groups: Vec<(TaskId, Id)>,
    /// Each pod member launched, with its pod.
    pods: Vec<(TaskId, Id)>,
    placed: HashSet<TaskId>,
    /// The offers accepted or declined: none stays outstanding.
    used: Vec<String>,
    declines: Vec<Id>,
    /// Why each request left pending did not fit, where that changed.
    reasons: Vec<(TaskId, Arc<str>)>,
    refuse_seconds: f64,
}

impl Cycle {
    /// The decisions as effects and owned values, so that the borrowed input
    /// can be dropped before the state changes.
    fn decided(
        input: &MatchInput<'_>,
        decisions: &Decisions<'_>,
        held: &[(TaskId, Arc<str>)],
        reasons_before: &OrdMap<TaskId, Arc<str>>,
        config: &Config,
        interner: &mut Interner,
    ) -> Self {
        let placed: HashSet<&str> = decisions
            .accepts
            .iter()
            .flat_map(|p| p.launches.iter().map(|l| l.task_id))
            .collect();
        let mut groups: Vec<(TaskId, Id)> = Vec::new();
        for r in input.requests.iter().filter(|r| placed.contains(r.task_id)) {
            let group = interner.intern(r.group);
            if r.pod.is_empty() {
                groups.push((TaskId::from(r.task_id), group));
            } else {
                groups.extend(
                    r.pod
                        .iter()
                        .map(|t| (TaskId::from(t.task_id), group.clone())),
                );
            }
        }
        // Every request placed: the framework wants nothing more for now.
        let refuse_seconds = config.refuse_seconds(decisions.pending.is_empty() && held.is_empty());
        let mut accepts = Vec::new();
        let mut launched = Vec::new();
        let mut pods = Vec::new();
        for p in &decisions.accepts {
            let agent_id = interner.intern(p.agent_id);
            let launches = p
                .launches
                .iter()
                .map(|l| launch_task(l, &agent_id))
                .collect::<Vec<_>>();
            for l in &launches {
                if l.pod.is_empty() {
                    launched.push((TaskId::from(l.task_id.as_str()), agent_id.clone()));
                }
                let pod_id = Id::from(l.task_id.as_str());
                for t in &l.pod {
                    launched.push((TaskId::from(t.task_id.as_str()), agent_id.clone()));
                    pods.push((TaskId::from(t.task_id.as_str()), pod_id.clone()));
                }
            }
            accepts.push(Effect::Accept(AcceptOffers {
                offer_ids: p.offer_ids.iter().map(|&id| id.to_owned()).collect(),
                agent_id,
                launches,
                refuse_seconds,
                role: p.role.map(str::to_owned),
                operations: Vec::new(),
            }));
        }
        // Most requests wait for the same reason cycle after cycle: only the
        // changed ones are written, and equal texts share one allocation.
        let mut texts: HashMap<&str, Arc<str>> = HashMap::default();
        let pending = decisions
            .pending
            .iter()
            .map(|p| (p.task_id, p.reason.as_str()))
            .chain(held.iter().map(|(id, reason)| (id.as_str(), &**reason)));
        let reasons: Vec<(TaskId, Arc<str>)> = pending
            .filter(|(id, reason)| reasons_before.get(*id).map(|r| &**r) != Some(*reason))
            .map(|(id, reason)| {
                let text = texts.entry(reason).or_insert_with(|| Arc::from(reason));
                (TaskId::from(id), text.clone())
            })
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
        Cycle {
            accepts,
            launched,
            groups,
            pods,
            placed,
            used,
            declines,
            reasons,
            refuse_seconds,
        }
    }

    /// Record the cycle in the state and emit its effects: the ACCEPTs, one
    /// DECLINE of the offers left over, and SUPPRESS once nothing is wanted.
    fn commit(self, state: &mut State, now: f64, out: &mut Vec<Effect>) {
        for id in &self.used {
            state.offers.remove(id.as_str());
        }
        for (task_id, agent_id) in self.launched {
            state
                .tasks
                .insert(task_id, Task::staging(Some(agent_id), now));
        }
        for (task_id, group) in self.groups {
            state.groups.insert(task_id.clone(), group);
            state.retally(&task_id, None);
        }
        volumes::placed(state, &self.accepts);
        for (id, request) in state.demand.iter() {
            if !self.placed.contains(id) {
                continue;
            }
            if request.unreachable.is_some() {
                state.strategies.insert(id.clone(), request.clone());
            }
            failover::placed(&mut state.requests, &state.stateful, id, request);
        }
        for (task_id, pod) in self.pods {
            state.pods.insert(task_id, pod);
        }
        state.demand.retain(|(id, _)| !self.placed.contains(id));
        for id in &self.placed {
            state.pending_reasons.remove(id);
            state.retally(id, None);
        }
        for (task_id, reason) in self.reasons {
            state.pending_reasons.insert(task_id, reason);
        }
        out.extend(self.accepts);
        if !self.declines.is_empty() {
            out.push(Effect::Decline {
                offer_ids: self.declines,
                refuse_seconds: self.refuse_seconds,
            });
        }
        if !state.wants_offers() && !state.suppressed {
            state.suppressed = true;
            out.push(Effect::Suppress);
        }
    }
}

/// A launch as the ACCEPT effect carries it, owned.
fn launch_task(l: &OutLaunch<'_>, agent_id: &Id) -> LaunchTask {
    LaunchTask {
        task_id: l.task_id.to_owned(),
        agent_id: agent_id.clone(),
        name: l.name.to_owned(),
        resources: l
            .resources()
            .map(|r| Resource {
                name: r.name.to_owned(),
                scalar: r.scalar,
                ranges: r.ranges.map(<[_]>::to_vec),
                set: r.set.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
                role: r.role.to_owned(),
                reservations: Vec::new(),
                persistence_id: None,
                container_path: None,
            })
            .collect(),
        payload: ByteBuf::from(l.payload.to_vec()),
        named_ports: l
            .named_ports
            .iter()
            .map(|&(name, port)| (name.to_owned(), port))
            .collect(),
        health_check: l.health_check.cloned(),
        kill_policy: l.kill_policy,
        pod: l
            .pod
            .iter()
            .map(|t| PodTask {
                task_id: t.task_id.to_owned(),
                resources: t.resources.iter().map(owned).collect(),
                name: t.name.to_owned(),
                payload: t.payload.to_vec(),
                health_check: t.health_check.as_deref().cloned(),
                kill_policy: t.kill_policy,
            })
            .collect(),
    }
}

fn owned(r: &RequestResource<'_>) -> Resource {
    Resource {
        name: r.name.to_owned(),
        scalar: r.scalar,
        ranges: r.ranges.clone(),
        set: r
            .set
            .as_ref()
            .map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
        role: r.role.to_owned(),
        reservations: Vec::new(),
        persistence_id: None,
        container_path: None,
    }
}
