//! The framework's bookkeeping.
//!
//! Every collection shares structure with its clones (tasks and agents in a
//! [`CowMap`], offers and pending reconciliation in imbl's persistent ordered
//! maps, which stay small or are only removed from), so cloning a [`State`]
//! is a handful of reference-count bumps: that is what makes a snapshot after
//! every step affordable. What no snapshot shares is updated in place.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_bytes::Bytes;

pub use crate::cow_map::CowMap;
use compact_str::CompactString;

use crate::messages::{
    Attribute, Operation, OperationState, Resource, Source, TaskState, Unavailability,
};
use crate::request::StoredRequest;
use crate::request::Strategy;

/// Agent ids, hostnames, reasons: interned, so a million records share a few.
pub type Id = Arc<str>;
/// Task ids are stored inline up to 24 bytes: a lookup then touches no second
/// allocation, which at 100,000 tasks is a cache miss saved per update.
pub type TaskId = CompactString;
pub type OrdMap<K, V> = imbl::OrdMap<K, V>;
pub type OrdSet<A> = imbl::OrdSet<A>;

/// Tuning of the reducer, the fields of `ark.state.Config`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub reconcile_base_seconds: f64,
    pub reconcile_factor: f64,
    pub reconcile_cap_seconds: f64,
    pub reconcile_max_rounds: u32,
    pub reconcile_decline_seconds: f64,
    pub offer_hold_seconds: f64,
    pub offer_refuse_seconds: f64,
    /// The refuse filter when nothing is wanted (see `Config::refuse_seconds`).
    pub offer_idle_refuse_seconds: f64,
    /// The strategy of requests that do not set their own (see `matching`).
    pub matching_strategy: Strategy,
    /// Launch backoff (see `reducer::backoff`): the first delay of a group...
    pub backoff_seconds: f64,
    /// ...its growth at each further failure...
    pub backoff_factor: f64,
    /// ...its cap...
    pub backoff_max_seconds: f64,
    /// ...and how long a task of the group must run for the delay to reset.
    pub backoff_reset_seconds: f64,
    /// What the core does with inverse offers (see `reducer::maintenance`).
    pub maintenance: Maintenance,
    /// How long before a maintenance window the drain policy acts.
    pub maintenance_margin_seconds: f64,
}

/// The maintenance policy, `ark.state.Config.maintenance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Maintenance {
    /// Mesos's default: inverse offers are the framework's to answer.
    Ignore,
    /// Kill the tasks of an agent before its window, place none there during
    /// it, and accept the inverse offer once the agent is empty.
    Drain,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            reconcile_base_seconds: 2.0,
            reconcile_factor: 2.0,
            reconcile_cap_seconds: 60.0,
            reconcile_max_rounds: 6,
            reconcile_decline_seconds: 5.0,
            offer_hold_seconds: 5.0,
            offer_refuse_seconds: 5.0,
            offer_idle_refuse_seconds: 300.0,
            matching_strategy: Strategy::Binpack,
            // Marathon's backoffSeconds, backoffFactor, maxLaunchDelaySeconds.
            backoff_seconds: 1.0,
            backoff_factor: 1.15,
            backoff_max_seconds: 300.0,
            backoff_reset_seconds: 60.0,
            maintenance: Maintenance::Ignore,
            maintenance_margin_seconds: 60.0,
        }
    }
}

impl Config {
    /// The refuse filter of offers the framework gives back: long when it
    /// wants nothing (new demand revives, which clears it), else short.
    pub fn refuse_seconds(&self, idle: bool) -> f64 {
        if idle {
            self.offer_idle_refuse_seconds
        } else {
            self.offer_refuse_seconds
        }
    }

    /// Wait before round `round` (from 1) is declared unanswered: truncated
    /// exponential backoff.
    pub fn reconcile_delay(&self, round: u32) -> f64 {
        let exponent = i32::try_from(round.saturating_sub(1)).unwrap_or(i32::MAX);
        (self.reconcile_base_seconds * self.reconcile_factor.powi(exponent))
            .min(self.reconcile_cap_seconds)
    }
}

/// One task's record. Kept small: a million of them must fit in 300 MB.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub agent_id: Option<Id>,
    pub reason: Option<Id>,
    pub message: Option<Arc<str>>,
    pub status_timestamp: Option<f64>,
    pub updated_at: f64,
    pub uuid: Option<[u8; 16]>,
    pub state: TaskState,
    pub source: Option<Source>,
    pub unreconciled: bool,
    /// The last health check result reported (docs/reducer.md, Health checks).
    pub healthy: Option<bool>,
}

impl Task {
    /// A task Ark has just launched (or learned of from its store), not yet
    /// reported by Mesos.
    pub fn staging(agent_id: Option<Id>, now: f64) -> Self {
        Task {
            agent_id,
            reason: None,
            message: None,
            status_timestamp: None,
            updated_at: now,
            uuid: None,
            state: TaskState::Staging,
            source: None,
            unreconciled: false,
            healthy: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Agent {
    pub hostname: Option<Id>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub agent_id: Id,
    pub hostname: Id,
    pub resources: Vec<Resource>,
    pub attributes: Vec<Attribute>,
    pub received_at: f64,
    /// The role the offer is allocated to: an ACCEPT answers in it.
    pub role: Option<Id>,
    /// The agent's maintenance window, if one is scheduled.
    pub unavailability: Option<Unavailability>,
}

/// An outstanding inverse offer (docs/reducer.md, Maintenance).
#[derive(Clone, Debug, PartialEq)]
pub struct InverseOffer {
    pub agent_id: Id,
    pub unavailability: Unavailability,
    pub received_at: f64,
    /// The drain policy has killed the agent's tasks for it.
    pub draining: bool,
}

/// A task with an unreachable strategy whose agent is unreachable
/// (docs/reducer.md, Partitions).
#[derive(Clone, Debug, PartialEq)]
pub struct Unreachable {
    /// When its TASK_UNREACHABLE came.
    pub since: f64,
    /// The copy requested in its place once it was unreachable long enough.
    pub replacement: Option<TaskId>,
    /// Given up: if it comes back, it is killed.
    pub expunged: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Idle,
    Explicit {
        round: u32,
        pending: OrdSet<TaskId>,
        started_at: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Reconciliation {
    pub phase: Phase,
    /// Offers were declined with the reconciliation filter since it started:
    /// its end revives them (see `reconcile::completed`).
    pub declined: bool,
    pub completed: u64,
    pub last_completed_at: Option<f64>,
}

/// A group's launch delay (see `reducer::backoff`).
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    pub delay: f64,
    /// When the current delay ends; None once a `Tick` saw it end.
    pub until: Option<f64>,
    /// Since when a task of the group has been running with no failure since.
    pub stable_since: Option<f64>,
}

/// Where a deployment is (docs/reducer.md, Deployments); by its name on the
/// wire (a stored deployment resumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentPhase {
    Running,
    Completed,
    RollingBack,
    RolledBack,
}

impl DeploymentPhase {
    pub fn name(self) -> &'static str {
        match self {
            DeploymentPhase::Running => "running",
            DeploymentPhase::Completed => "completed",
            DeploymentPhase::RollingBack => "rolling-back",
            DeploymentPhase::RolledBack => "rolled-back",
        }
    }
}

/// A rolling update of one group (see `reducer::deployment`).
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    /// The new version: its copies are `{template.task_id}-{k}`.
    pub template: Arc<StoredRequest>,
    /// The version it replaces, brought back on a rollback (None: the
    /// group's first deployment).
    pub previous: Option<Arc<StoredRequest>>,
    pub instances: u32,
    pub minimum_health_capacity: f64,
    pub maximum_over_capacity: f64,
    pub max_failures: u32,
    /// New tasks that failed so far.
    pub failures: u32,
    pub phase: DeploymentPhase,
    /// Tasks it killed that have not ended yet: no longer ready, still up.
    pub killing: OrdSet<TaskId>,
}

/// What a member of an active deployment's group counts as.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counted {
    /// Still in the demand, not launched.
    pub requested: bool,
    /// A copy of the version being brought up.
    pub target: bool,
    pub ready: bool,
    pub killing: bool,
}

/// The members of an active deployment's group, counted as they change, so
/// that a step of the deployment costs the same whatever the group's size
/// (see `reducer::deployment`). Derived from the rest of the state: built
/// by a scan of the group when missing, dropped when its deployment ends or
/// changes target.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub members: OrdMap<TaskId, Counted>,
    /// Placed, not copies of the target, not killing: not ready, ready.
    pub victims: OrdSet<TaskId>,
    pub ready_victims: OrdSet<TaskId>,
    /// Requests that are not copies of the target.
    pub stale: OrdSet<TaskId>,
    pub ready: u32,
    pub target_up: u32,
    pub target_ready: u32,
    /// Members that are not copies of the target.
    pub others: u32,
    /// Every copy `{target}-{k}` with a smaller `k` is known or requested.
    pub next: u64,
}

/// Disk a planned RESERVE reserved for a volume whose CREATE failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Stranded {
    pub agent_id: Id,
    /// The task the volume was for (names the UNRESERVE).
    pub task_id: TaskId,
    /// The RESERVE's resource: the disk, its role and reservations.
    pub resource: Arc<Resource>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub framework_id: Option<Id>,
    pub registered: bool,
    pub suppressed: bool,
    pub error: Option<Arc<str>>,
    pub heartbeat_interval_seconds: Option<f64>,
    pub last_heartbeat_at: Option<f64>,
    pub agents: CowMap<Id, Agent>,
    /// Outstanding offers, ordered by id so that declines list them sorted.
    pub offers: OrdMap<Id, Arc<Offer>>,
    pub tasks: CowMap<TaskId, Task>,
    pub reconciliation: Reconciliation,
    /// Task requests not yet placed, in arrival order.
    pub demand: imbl::Vector<(TaskId, Arc<StoredRequest>)>,
    /// Why each request in `demand` did not fit, as of the last matching cycle.
    pub pending_reasons: OrdMap<TaskId, Arc<str>>,
    /// Agents the matcher must not use, sorted.
    pub blacklist: Arc<Vec<String>>,
    /// The group of each live task the matcher placed (for UNIQUE and MAX_PER).
    pub groups: OrdMap<TaskId, Id>,
    /// The request of each live task the matcher placed with an unreachable
    /// strategy: what its replacement would be.
    pub strategies: OrdMap<TaskId, Arc<StoredRequest>>,
    /// Those of them now unreachable.
    pub unreachable: OrdMap<TaskId, Unreachable>,
    /// Launch delays of groups whose tasks failed, by group.
    pub backoffs: OrdMap<Id, Backoff>,
    /// The pod of each task launched as a pod's member.
    pub pods: OrdMap<TaskId, Id>,
    /// Outstanding inverse offers, by id.
    pub inverse_offers: OrdMap<Id, InverseOffer>,
    /// Rolling updates, by group: in progress, or the last one ended.
    pub deployments: OrdMap<Id, Deployment>,
    /// The persistent volumes the framework holds, by persistence id.
    pub volumes: OrdMap<Id, Arc<Volume>>,
    /// The scalars the framework reserved, by agent, name and role.
    pub reserved: OrdMap<(Id, Id, Id), f64>,
    /// The request of each task with a volume, requested or live, under its
    /// first task id: what it is placed again from when it ends.
    pub stateful: OrdMap<TaskId, Arc<StoredRequest>>,
    /// The volumes a Replace gives up: destroyed and unreserved when offered.
    pub releasing: imbl::OrdSet<Id>,
    /// The reservations of planned RESERVEs whose CREATE failed, by the
    /// RESERVE's id: unreserved when offered (docs/reducer.md, Operation feedback).
    pub stranded: OrdMap<Id, Stranded>,
    /// Offer operations with an id, by id: their latest status.
    pub operations: OrdMap<Id, OperationRecord>,
    /// The members of active deployments' groups, counted, by group.
    pub tallies: OrdMap<Id, Tally>,
    /// The request each live task the matcher placed was made from (a
    /// stateful task's: its `stateful` entry), for the store: what a new
    /// leader's `Track` restores from.
    pub requests: OrdMap<TaskId, Arc<StoredRequest>>,
}

/// An offer operation with an id, as the core sent it and Mesos reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationRecord {
    pub agent_id: Option<Id>,
    pub resource_provider_id: Option<Id>,
    pub state: OperationState,
    pub message: Option<Arc<str>>,
    /// The operation as the core sent and tracked it (None: known only from
    /// a status), undone if it fails.
    pub sent: Option<Arc<Operation>>,
}

/// A persistent volume, as its offers and CREATE show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Volume {
    pub agent_id: Id,
    pub role: String,
    pub size: f64,
    pub container_path: Option<String>,
    /// The principal of its reservation.
    pub principal: Option<String>,
}

impl Volume {
    /// The volume a disk resource is, if it is one; `None` for any other.
    pub fn of(agent_id: &Id, r: &Resource) -> Option<(Id, Volume)> {
        let id = r.persistence_id.as_deref()?;
        let volume = Volume {
            agent_id: agent_id.clone(),
            role: r.role.clone(),
            size: r.scalar.unwrap_or(0.0),
            container_path: r.container_path.clone(),
            principal: r.reservations.last().and_then(|v| v.principal.clone()),
        };
        Some((Id::from(id), volume))
    }
}

impl Default for State {
    fn default() -> Self {
        State {
            framework_id: None,
            registered: false,
            suppressed: false,
            error: None,
            heartbeat_interval_seconds: None,
            last_heartbeat_at: None,
            agents: CowMap::default(),
            offers: OrdMap::new(),
            tasks: CowMap::default(),
            reconciliation: Reconciliation {
                phase: Phase::Idle,
                declined: false,
                completed: 0,
                last_completed_at: None,
            },
            demand: imbl::Vector::new(),
            pending_reasons: OrdMap::new(),
            blacklist: Arc::new(Vec::new()),
            groups: OrdMap::new(),
            strategies: OrdMap::new(),
            unreachable: OrdMap::new(),
            backoffs: OrdMap::new(),
            pods: OrdMap::new(),
            inverse_offers: OrdMap::new(),
            deployments: OrdMap::new(),
            volumes: OrdMap::new(),
            reserved: OrdMap::new(),
            stateful: OrdMap::new(),
            releasing: imbl::OrdSet::new(),
            stranded: OrdMap::new(),
            operations: OrdMap::new(),
            tallies: OrdMap::new(),
            requests: OrdMap::new(),
        }
    }
}

impl State {
    /// Whether the framework wants offers: to place its demand, or to give
    /// back a volume (`releasing`) or a reservation (`stranded`), which
    /// happens only when the agent is offered (a real master honours a
    /// SUPPRESS: a suppressed framework is offered nothing).
    pub fn wants_offers(&self) -> bool {
        !(self.demand.is_empty() && self.releasing.is_empty() && self.stranded.is_empty())
    }

    /// Revive if suppressed: something is to be given back.
    pub fn revive_to_give_back(&mut self, out: &mut Vec<crate::effects::Effect>) {
        if self.suppressed && self.wants_offers() {
            self.suppressed = false;
            out.push(crate::effects::Effect::Revive);
        }
    }

    pub fn is_reconciling(&self) -> bool {
        matches!(self.reconciliation.phase, Phase::Explicit { .. })
    }
}

// --- Views: the shapes of `ark.state`, serialized straight from the state. ---

/// A task as `ark.state.TaskRecord`.
#[derive(Serialize)]
pub struct TaskView<'a> {
    pub task_id: &'a str,
    pub state: &'static str,
    pub agent_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub source: Option<Source>,
    pub message: Option<&'a str>,
    pub uuid: Option<&'a Bytes>,
    pub status_timestamp: Option<f64>,
    pub updated_at: f64,
    pub unreconciled: bool,
    pub healthy: Option<bool>,
}

impl<'a> TaskView<'a> {
    pub fn new(task_id: &'a str, task: &'a Task) -> Self {
        TaskView {
            task_id,
            state: task.state.name(),
            agent_id: task.agent_id.as_deref(),
            reason: task.reason.as_deref(),
            source: task.source,
            message: task.message.as_deref(),
            uuid: task.uuid.as_ref().map(|u| Bytes::new(u)),
            status_timestamp: task.status_timestamp,
            updated_at: task.updated_at,
            unreconciled: task.unreconciled,
            healthy: task.healthy,
        }
    }
}

#[derive(Serialize)]
struct AgentView<'a> {
    agent_id: &'a str,
    hostname: Option<&'a str>,
    active: bool,
}

#[derive(Serialize)]
struct OfferView<'a> {
    offer_id: &'a str,
    agent_id: &'a str,
    hostname: &'a str,
    resources: &'a [Resource],
    attributes: &'a [Attribute],
    received_at: f64,
}

#[derive(Serialize)]
struct ReconciliationView<'a> {
    phase: &'static str,
    round: u32,
    pending: Vec<&'a str>,
    started_at: Option<f64>,
    completed: u64,
    last_completed_at: Option<f64>,
}

#[derive(Serialize)]
struct RequestView<'a> {
    task_id: &'a str,
    reason: Option<&'a str>,
    delayed_until: Option<f64>,
}

#[derive(Serialize)]
struct BackoffView<'a> {
    group: &'a str,
    delay: f64,
    until: Option<f64>,
    stable_since: Option<f64>,
}

#[derive(Serialize)]
struct UnreachableView<'a> {
    task_id: &'a str,
    since: f64,
    replacement: Option<&'a str>,
    expunged: bool,
}

#[derive(Serialize)]
struct InverseOfferView<'a> {
    inverse_offer_id: &'a str,
    agent_id: &'a str,
    unavailability: Unavailability,
    received_at: f64,
    draining: bool,
}

#[derive(Serialize)]
struct VersionCountView {
    up: u32,
    ready: u32,
}

#[derive(Serialize)]
struct DeploymentView<'a> {
    group: &'a str,
    version: &'a str,
    previous: Option<&'a str>,
    instances: u32,
    state: &'static str,
    failures: u32,
    new: VersionCountView,
    old: VersionCountView,
    other: VersionCountView,
}

#[derive(Serialize)]
struct StateView<'a> {
    framework_id: Option<&'a str>,
    registered: bool,
    suppressed: bool,
    error: Option<&'a str>,
    heartbeat_interval_seconds: Option<f64>,
    last_heartbeat_at: Option<f64>,
    agents: Vec<AgentView<'a>>,
    offers: Vec<OfferView<'a>>,
    tasks: Vec<TaskView<'a>>,
    reconciliation: ReconciliationView<'a>,
    demand: Vec<RequestView<'a>>,
    blacklist: &'a [String],
    groups: Vec<(&'a str, &'a str)>,
    unreachable: Vec<UnreachableView<'a>>,
    backoffs: Vec<BackoffView<'a>>,
    pods: Vec<(&'a str, &'a str)>,
    inverse_offers: Vec<InverseOfferView<'a>>,
    deployments: Vec<DeploymentView<'a>>,
    volumes: Vec<VolumeView<'a>>,
    reserved: Vec<(&'a str, &'a str, &'a str, f64)>,
    operations: Vec<OperationView<'a>>,
}

/// An operation as `ark.state.OperationRecord`.
#[derive(Serialize)]
struct OperationView<'a> {
    operation_id: &'a str,
    agent_id: Option<&'a str>,
    state: &'static str,
    message: Option<&'a str>,
}

/// A volume as `ark.state.VolumeRecord`.
#[derive(Serialize)]
struct VolumeView<'a> {
    persistence_id: &'a str,
    agent_id: &'a str,
    role: &'a str,
    size: f64,
    container_path: Option<&'a str>,
    principal: Option<&'a str>,
}

impl State {
    /// The whole state as the msgpack of `ark.state.StateView` (arrays, as
    /// `array_like` structs are), lists sorted by id.
    pub fn encode_view(&self) -> Vec<u8> {
        let mut agents: Vec<AgentView> = self
            .agents
            .iter()
            .map(|(id, a)| AgentView {
                agent_id: id,
                hostname: a.hostname.as_deref(),
                active: a.active,
            })
            .collect();
        agents.sort_unstable_by(|a, b| a.agent_id.cmp(b.agent_id));
        let offers = self
            .offers
            .iter()
            .map(|(id, o)| OfferView {
                offer_id: id,
                agent_id: &o.agent_id,
                hostname: &o.hostname,
                resources: &o.resources,
                attributes: &o.attributes,
                received_at: o.received_at,
            })
            .collect();
        let mut tasks: Vec<TaskView> = self
            .tasks
            .iter()
            .map(|(id, t)| TaskView::new(id, t))
            .collect();
        tasks.sort_unstable_by(|a, b| a.task_id.cmp(b.task_id));
        let r = &self.reconciliation;
        let reconciliation = match &r.phase {
            Phase::Idle => ReconciliationView {
                phase: "idle",
                round: 0,
                pending: Vec::new(),
                started_at: None,
                completed: r.completed,
                last_completed_at: r.last_completed_at,
            },
            Phase::Explicit {
                round,
                pending,
                started_at,
            } => ReconciliationView {
                phase: "explicit",
                round: *round,
                pending: pending.iter().map(|id| &**id).collect(),
                started_at: Some(*started_at),
                completed: r.completed,
                last_completed_at: r.last_completed_at,
            },
        };
        let view = StateView {
            framework_id: self.framework_id.as_deref(),
            registered: self.registered,
            suppressed: self.suppressed,
            error: self.error.as_deref(),
            heartbeat_interval_seconds: self.heartbeat_interval_seconds,
            last_heartbeat_at: self.last_heartbeat_at,
            agents,
            offers,
            tasks,
            reconciliation,
            demand: self
                .demand
                .iter()
                .map(|(id, request)| RequestView {
                    task_id: id,
                    reason: self.pending_reasons.get(id).map(|r| &**r),
                    delayed_until: self.backoffs.get(request.group()).and_then(|b| b.until),
                })
                .collect(),
            blacklist: &self.blacklist,
            groups: self.groups.iter().map(|(t, g)| (&**t, &**g)).collect(),
            unreachable: self
                .unreachable
                .iter()
                .map(|(id, u)| UnreachableView {
                    task_id: id,
                    since: u.since,
                    replacement: u.replacement.as_deref(),
                    expunged: u.expunged,
                })
                .collect(),
            backoffs: self
                .backoffs
                .iter()
                .map(|(group, b)| BackoffView {
                    group,
                    delay: b.delay,
                    until: b.until,
                    stable_since: b.stable_since,
                })
                .collect(),
            pods: self.pods.iter().map(|(t, p)| (&**t, &**p)).collect(),
            inverse_offers: self
                .inverse_offers
                .iter()
                .map(|(id, i)| InverseOfferView {
                    inverse_offer_id: id,
                    agent_id: &i.agent_id,
                    unavailability: i.unavailability,
                    received_at: i.received_at,
                    draining: i.draining,
                })
                .collect(),
            deployments: self
                .deployments
                .iter()
                .map(|(group, d)| {
                    let c = self.deployment_counts(group, d);
                    let count = |c: crate::reducer::deployment::Count| VersionCountView {
                        up: c.up,
                        ready: c.ready,
                    };
                    DeploymentView {
                        group,
                        version: &d.template.task_id,
                        previous: d.previous.as_ref().map(|p| &*p.task_id),
                        instances: d.instances,
                        state: d.phase.name(),
                        failures: d.failures,
                        new: count(c.template),
                        old: count(c.previous),
                        other: count(c.other),
                    }
                })
                .collect(),
            volumes: self
                .volumes
                .iter()
                .map(|(id, v)| VolumeView {
                    persistence_id: id,
                    agent_id: &v.agent_id,
                    role: &v.role,
                    size: v.size,
                    container_path: v.container_path.as_deref(),
                    principal: v.principal.as_deref(),
                })
                .collect(),
            reserved: self
                .reserved
                .iter()
                .map(|((a, n, r), x)| (&**a, &**n, &**r, *x))
                .collect(),
            operations: self
                .operations
                .iter()
                .map(|(id, op)| OperationView {
                    operation_id: id,
                    agent_id: op.agent_id.as_deref(),
                    state: op.state.name(),
                    message: op.message.as_deref(),
                })
                .collect(),
        };
        rmp_serde::to_vec(&view).expect("views are plain data and always encode")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refuse_filter_is_long_only_when_nothing_is_wanted() {
        let config = Config::default();
        assert_eq!(config.refuse_seconds(false), 5.0);
        assert_eq!(config.refuse_seconds(true), 300.0);
    }

    #[test]
    fn reconciliation_backs_off_exponentially_up_to_the_cap() {
        let config = Config::default();
        let delays: Vec<f64> = (1..=7).map(|round| config.reconcile_delay(round)).collect();
        assert_eq!(delays, vec![2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]);
        // Round 0 does not exist; it waits as round 1. A huge round overflows
        // to infinity inside, and still waits the cap.
        assert_eq!(config.reconcile_delay(0), 2.0);
        assert_eq!(config.reconcile_delay(u32::MAX), 60.0);
    }

    #[test]
    fn a_staging_task_has_no_status_yet() {
        let task = Task::staging(Some(Id::from("a1")), 7.0);
        assert_eq!(task.state, TaskState::Staging);
        assert_eq!(task.agent_id.as_deref(), Some("a1"));
        assert_eq!(task.updated_at, 7.0);
        assert_eq!(
            (task.reason, task.message, task.uuid, task.source),
            (None, None, None, None)
        );
        assert!(task.status_timestamp.is_none() && !task.unreconciled);
    }

    #[test]
    fn reconciling_is_the_explicit_phase() {
        let mut state = State::default();
        assert!(!state.is_reconciling());
        state.reconciliation.phase = Phase::Explicit {
            round: 1,
            pending: OrdSet::new(),
            started_at: 0.0,
        };
        assert!(state.is_reconciling());
    }

    #[test]
    fn a_clone_is_a_snapshot_later_writes_do_not_reach() {
        let mut state = State::default();
        state
            .tasks
            .insert(TaskId::from("t1"), Task::staging(None, 1.0));
        let snapshot = state.clone();
        state.tasks.get_mut("t1").unwrap().state = TaskState::Running;
        state
            .tasks
            .insert(TaskId::from("t2"), Task::staging(None, 2.0));
        assert_eq!(snapshot.tasks.len(), 1);
        assert_eq!(snapshot.tasks.get("t1").unwrap().state, TaskState::Staging);
        assert_eq!(state.tasks.get("t1").unwrap().state, TaskState::Running);
    }

    /// The view's msgpack read back as plain values: structs are arrays,
    /// fields in declaration order.
    fn view(state: &State) -> serde_json::Value {
        rmp_serde::from_slice(&state.encode_view()).expect("a view decodes")
    }

    fn request(task_id: &str) -> Arc<StoredRequest> {
        Arc::new(StoredRequest::from(&crate::request::TaskRequest {
            task_id,
            ..Default::default()
        }))
    }

    #[test]
    fn the_view_lists_tasks_sorted_and_demand_with_its_reasons() {
        let mut state = State::default();
        for (id, at) in [("t2", 2.0), ("t1", 1.0), ("t3", 3.0)] {
            state
                .tasks
                .insert(TaskId::from(id), Task::staging(Some(Id::from("a1")), at));
        }
        state.demand.push_back((TaskId::from("r1"), request("r1")));
        state.demand.push_back((TaskId::from("r2"), request("r2")));
        state
            .pending_reasons
            .insert(TaskId::from("r2"), Arc::from("no offers"));
        state.framework_id = Some(Id::from("fw"));
        let v = view(&state);
        assert_eq!(v[0], "fw");
        let tasks: Vec<&str> = v[8]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t[0].as_str().unwrap())
            .collect();
        assert_eq!(tasks, vec!["t1", "t2", "t3"]);
        assert_eq!(v[8][0][1], "TASK_STAGING");
        assert_eq!(v[9][0], "idle");
        assert_eq!(
            v[10],
            serde_json::json!([["r1", null, null], ["r2", "no offers", null]])
        );
    }
}
