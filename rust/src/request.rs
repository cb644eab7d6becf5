//! Task requests: what a framework asks the matcher to place.
//!
//! Their own module because both ends use them: `messages` decodes them from
//! a `Request`, and `matching` places them. The matcher reads a
//! [`TaskRequest`], whose strings are borrowed; the demand keeps each request
//! as a [`StoredRequest`], decoded once when its message is, and lends it to
//! every cycle (decoding 50,000 stored msgpack requests took 25-31 ms a cycle).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::health::{HealthCheck, KillPolicy};

/// How requests are placed: on the first agent that takes them, or after
/// the agent last chosen for their shape (docs/matching.md, Placement).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    #[default]
    Binpack,
    Spread,
}

/// A constraint's operator, as `ark.messages.Operator`; any other is a
/// decoding error, never a request that reaches the matcher.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    Eq,
    Like,
    Unlike,
    Unique,
    MaxPer,
    GroupBy,
}

impl Operator {
    /// UNIQUE, MAX_PER and GROUP_BY count the tasks of a group per value.
    pub fn counts(self) -> bool {
        matches!(
            self,
            Operator::Unique | Operator::MaxPer | Operator::GroupBy
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Eq => "EQ",
            Operator::Like => "LIKE",
            Operator::Unlike => "UNLIKE",
            Operator::Unique => "UNIQUE",
            Operator::MaxPer => "MAX_PER",
            Operator::GroupBy => "GROUP_BY",
        })
    }
}

/// A placement constraint, as `ark.matching.Constraint` (see docs/matching.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub struct Constraint<'a> {
    pub field: &'a str,
    pub operator: Operator,
    #[serde(default)]
    pub value: &'a str,
}

/// A request's resource, as `ark.messages.Resource` (only scalars count here).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct RequestResource<'a> {
    pub name: &'a str,
    #[serde(default)]
    pub scalar: Option<f64>,
    #[serde(default)]
    pub ranges: Option<Vec<(i64, i64)>>,
    #[serde(default, borrow)]
    pub set: Option<Vec<&'a str>>,
    #[serde(default = "any_role")]
    pub role: &'a str,
    // A request asks for plain resources: its reservations and volume
    // fields are read past (a volume is asked for by the request's own field).
    #[serde(default, skip_serializing)]
    pub reservations: Vec<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub persistence_id: Option<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub container_path: Option<serde::de::IgnoredAny>,
}

fn any_role() -> &'static str {
    "*"
}

/// Which copy goes when an unreachable task comes back after it was replaced
/// (Marathon's `killSelection`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum KillSelection {
    #[default]
    YoungestFirst,
    OldestFirst,
}

/// What to do with a task whose agent is unreachable, as
/// `ark.messages.UnreachableStrategy` (docs/reducer.md, Partitions).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
pub struct UnreachableStrategy {
    #[serde(default = "default_inactive_after")]
    pub inactive_after_seconds: f64,
    #[serde(default = "default_expunge_after")]
    pub expunge_after_seconds: f64,
    #[serde(default)]
    pub kill_selection: KillSelection,
}

// Marathon's defaults.
fn default_inactive_after() -> f64 {
    300.0
}

fn default_expunge_after() -> f64 {
    600.0
}

impl UnreachableStrategy {
    /// Why the strategy is malformed, if it is: it needs `0 <= inactive <=
    /// expunge` (NaN fails every comparison, so it is refused too), on a
    /// request that is not a pod.
    pub fn invalid(&self, task_id: &str, is_pod: bool) -> Option<String> {
        let (inactive, expunge) = (self.inactive_after_seconds, self.expunge_after_seconds);
        if is_pod {
            // A replacement pod would need its members renamed too: not built.
            Some(format!(
                "task {task_id:?}: a pod takes no unreachable strategy (not supported yet)"
            ))
        } else if 0.0 <= inactive && inactive <= expunge {
            None
        } else {
            Some(format!(
                "task {task_id:?}: an unreachable strategy needs 0 <= inactive_after_seconds \
                 ({inactive}) <= expunge_after_seconds ({expunge})"
            ))
        }
    }
}

/// One task of a pod, as `ark.messages.PodTask`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct PodTask<'a> {
    pub task_id: &'a str,
    #[serde(default, borrow)]
    pub resources: Vec<RequestResource<'a>>,
    #[serde(default)]
    pub name: &'a str,
    #[serde(default, with = "serde_bytes")]
    pub payload: &'a [u8],
    /// Carried to the member's `TaskInfo` untouched, as a request's.
    #[serde(default)]
    pub health_check: Option<Cow<'a, HealthCheck>>,
    #[serde(default)]
    pub kill_policy: Option<KillPolicy>,
}

/// The persistent volume a request's task keeps its data in, as
/// `ark.messages.Volume` (docs/reducer.md, Stateful services).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct VolumeRequest {
    pub persistence_id: String,
    pub container_path: String,
    pub size_mb: f64,
    /// The role its disk is reserved for: the framework's (a MULTI_ROLE
    /// framework's request must take offers of that role).
    pub role: String,
    #[serde(default)]
    pub principal: Option<String>,
}

impl VolumeRequest {
    /// Why a request's volume is malformed, if it is: it needs ids, a size
    /// and a role to reserve in, the request's own if it names one; a pod
    /// takes none yet.
    pub fn invalid(&self, task_id: &str, role: Option<&str>, pod: bool) -> Option<String> {
        let problem = if self.persistence_id.is_empty() || self.container_path.is_empty() {
            "a volume needs a persistence_id and a container_path"
        } else if !(self.size_mb > 0.0 && self.size_mb.is_finite()) {
            "a volume needs a finite size_mb > 0"
        } else if self.role.is_empty() || self.role == "*" {
            "a volume needs a role (not \"*\") to reserve its disk for"
        } else if role.is_some_and(|r| r != self.role) {
            "a volume's role must be the request's role"
        } else if pod {
            "a pod cannot have a volume yet"
        } else {
            return None;
        };
        Some(format!("task {task_id:?}: {problem}"))
    }
}

/// A task request, as `ark.matching.TaskRequest`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct TaskRequest<'a> {
    pub task_id: &'a str,
    #[serde(default, borrow)]
    pub resources: Vec<RequestResource<'a>>,
    #[serde(default)]
    pub ports: u32,
    #[serde(default, borrow)]
    pub constraints: Vec<Constraint<'a>>,
    #[serde(default)]
    pub group: &'a str,
    #[serde(default)]
    pub agent_id: Option<&'a str>,
    #[serde(default)]
    pub name: &'a str,
    #[serde(default, with = "serde_bytes")]
    pub payload: &'a [u8],
    /// Ports wanted by name, on top of `ports`: each gets its own.
    #[serde(default, borrow)]
    pub port_names: Vec<&'a str>,
    /// This request's strategy; None: the cycle's.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// What to do when its agent is unreachable; None: nothing.
    #[serde(default)]
    pub unreachable: Option<UnreachableStrategy>,
    /// The role whose offers it takes (MULTI_ROLE); None: any.
    #[serde(default, borrow)]
    pub role: Option<&'a str>,
    /// Carried to the launch untouched: owned when decoded, lent by a
    /// stored request.
    #[serde(default)]
    pub health_check: Option<Cow<'a, HealthCheck>>,
    #[serde(default)]
    pub kill_policy: Option<KillPolicy>,
    /// A pod's members: placed as one unit, launched as one LAUNCH_GROUP.
    #[serde(default, borrow)]
    pub pod: Vec<PodTask<'a>>,
    /// The persistent volume its task needs: the matcher reserves and
    /// creates it, or places the task where it is.
    #[serde(default)]
    pub volume: Option<Cow<'a, VolumeRequest>>,
}

impl TaskRequest<'_> {
    /// Why the request is malformed, if it is: a bad health check or kill
    /// policy (its own or a member's), unreachable strategy or volume. The
    /// check first, as msgspec refuses it when the reference decodes it.
    pub fn problem(&self) -> Option<String> {
        crate::health::problem(
            self.task_id,
            self.health_check.as_deref(),
            self.kill_policy.as_ref(),
        )
        .or_else(|| {
            self.pod.iter().find_map(|p| {
                crate::health::problem(p.task_id, p.health_check.as_deref(), p.kill_policy.as_ref())
            })
        })
        .or_else(|| {
            self.unreachable
                .and_then(|u| u.invalid(self.task_id, !self.pod.is_empty()))
        })
        .or_else(|| {
            let volume = self.volume.as_deref()?;
            volume.invalid(self.task_id, self.role, !self.pod.is_empty())
        })
    }

    /// How many ports the request takes: `ports` plus one per name.
    pub fn port_count(&self) -> i64 {
        i64::from(self.ports) + self.port_names.len() as i64
    }

    /// Every scalar the request needs: its own resources, then its pod
    /// members' (a pod's own are its executor's).
    pub fn all_resources(&self) -> impl Iterator<Item = &RequestResource<'_>> + '_ {
        self.resources
            .iter()
            .chain(self.pod.iter().flat_map(|t| t.resources.iter()))
    }
}

/// A request as the demand keeps it between cycles: owned, decoded once.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRequest {
    pub task_id: Box<str>,
    resources: Vec<StoredResource>,
    ports: u32,
    constraints: Vec<(Box<str>, Operator, Box<str>)>,
    group: Box<str>,
    agent_id: Option<Box<str>>,
    name: Box<str>,
    payload: Box<[u8]>,
    port_names: Vec<Box<str>>,
    strategy: Option<Strategy>,
    pub unreachable: Option<UnreachableStrategy>,
    role: Option<Box<str>>,
    health_check: Option<Box<HealthCheck>>,
    kill_policy: Option<KillPolicy>,
    pod: Vec<StoredPodTask>,
    pub volume: Option<Box<VolumeRequest>>,
}

#[derive(Clone, Debug, PartialEq)]
struct StoredPodTask {
    task_id: Box<str>,
    resources: Vec<StoredResource>,
    name: Box<str>,
    payload: Box<[u8]>,
    health_check: Option<Box<HealthCheck>>,
    kill_policy: Option<KillPolicy>,
}

#[derive(Clone, Debug, PartialEq)]
struct StoredResource {
    name: Box<str>,
    scalar: Option<f64>,
    ranges: Option<Vec<(i64, i64)>>,
    set: Option<Vec<Box<str>>>,
    role: Box<str>,
}

impl From<&RequestResource<'_>> for StoredResource {
    fn from(x: &RequestResource<'_>) -> Self {
        StoredResource {
            name: x.name.into(),
            scalar: x.scalar,
            ranges: x.ranges.clone(),
            set: x
                .set
                .as_ref()
                .map(|s| s.iter().map(|&v| v.into()).collect()),
            role: x.role.into(),
        }
    }
}

impl StoredResource {
    fn view(&self) -> RequestResource<'_> {
        RequestResource {
            name: &self.name,
            scalar: self.scalar,
            ranges: self.ranges.clone(),
            set: self.set.as_ref().map(|s| s.iter().map(|v| &**v).collect()),
            role: &self.role,
            ..Default::default()
        }
    }
}

impl From<&TaskRequest<'_>> for StoredRequest {
    fn from(r: &TaskRequest<'_>) -> Self {
        StoredRequest {
            task_id: r.task_id.into(),
            resources: r.resources.iter().map(StoredResource::from).collect(),
            ports: r.ports,
            constraints: r
                .constraints
                .iter()
                .map(|c| (c.field.into(), c.operator, c.value.into()))
                .collect(),
            group: r.group.into(),
            agent_id: r.agent_id.map(Into::into),
            name: r.name.into(),
            payload: r.payload.into(),
            port_names: r.port_names.iter().map(|&n| n.into()).collect(),
            strategy: r.strategy,
            unreachable: r.unreachable,
            role: r.role.map(Into::into),
            health_check: r.health_check.as_deref().map(|h| Box::new(h.clone())),
            kill_policy: r.kill_policy,
            pod: r
                .pod
                .iter()
                .map(|t| StoredPodTask {
                    task_id: t.task_id.into(),
                    resources: t.resources.iter().map(StoredResource::from).collect(),
                    name: t.name.into(),
                    payload: t.payload.into(),
                    health_check: t.health_check.as_deref().map(|h| Box::new(h.clone())),
                    kill_policy: t.kill_policy,
                })
                .collect(),
            volume: r.volume.as_deref().map(|v| Box::new(v.clone())),
        }
    }
}

impl StoredRequest {
    /// The group the request belongs to (launch backoff is per group).
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The request as the matcher reads it, borrowing every string.
    pub fn view(&self) -> TaskRequest<'_> {
        TaskRequest {
            task_id: &self.task_id,
            resources: self.resources.iter().map(StoredResource::view).collect(),
            ports: self.ports,
            constraints: self
                .constraints
                .iter()
                .map(|(field, operator, value)| Constraint {
                    field,
                    operator: *operator,
                    value,
                })
                .collect(),
            group: &self.group,
            agent_id: self.agent_id.as_deref(),
            name: &self.name,
            payload: &self.payload,
            port_names: self.port_names.iter().map(|n| &**n).collect(),
            strategy: self.strategy,
            unreachable: self.unreachable,
            role: self.role.as_deref(),
            health_check: self.health_check.as_deref().map(Cow::Borrowed),
            kill_policy: self.kill_policy,
            pod: self
                .pod
                .iter()
                .map(|t| PodTask {
                    task_id: &t.task_id,
                    resources: t.resources.iter().map(StoredResource::view).collect(),
                    name: &t.name,
                    payload: &t.payload,
                    health_check: t.health_check.as_deref().map(Cow::Borrowed),
                    kill_policy: t.kill_policy,
                })
                .collect(),
            volume: self.volume.as_deref().map(Cow::Borrowed),
        }
    }

    /// Whether its tasks are checked for health (a deployment's readiness).
    pub fn has_health_check(&self) -> bool {
        self.health_check.is_some()
    }

    /// The same request under another task id: an unreachable task's
    /// replacement.
    pub fn with_task_id(&self, task_id: &str) -> Self {
        StoredRequest {
            task_id: task_id.into(),
            ..self.clone()
        }
    }

    /// The ids of a pod's members (none for a plain request).
    pub fn member_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.pod.iter().map(|t| &*t.task_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_request_lends_back_what_was_decoded() {
        let decoded = TaskRequest {
            task_id: "web-1",
            resources: vec![
                RequestResource {
                    name: "cpus",
                    scalar: Some(0.5),
                    ranges: None,
                    set: None,
                    role: "*",
                    ..Default::default()
                },
                RequestResource {
                    name: "disks",
                    scalar: None,
                    ranges: Some(vec![(1, 2)]),
                    set: Some(vec!["ssd"]),
                    role: "web",
                    ..Default::default()
                },
            ],
            ports: 2,
            constraints: vec![Constraint {
                field: "rack",
                operator: Operator::GroupBy,
                value: "3",
            }],
            group: "web",
            agent_id: Some("a1"),
            name: "web",
            payload: b"\x81",
            port_names: vec!["http"],
            strategy: Some(Strategy::Spread),
            unreachable: Some(UnreachableStrategy {
                inactive_after_seconds: 1.0,
                expunge_after_seconds: 2.0,
                kill_selection: KillSelection::OldestFirst,
            }),
            role: Some("web"),
            health_check: Some(Cow::Owned(HealthCheck {
                kind: crate::health::CheckType::Tcp,
                command: None,
                port: Some(8080),
                path: None,
                scheme: None,
                delay_seconds: 1.0,
                interval_seconds: 2.0,
                timeout_seconds: 3.0,
                consecutive_failures: 4,
                grace_period_seconds: 5.0,
            })),
            kill_policy: Some(KillPolicy {
                grace_period_seconds: 6.0,
            }),
            pod: vec![PodTask {
                task_id: "web-1.sidecar",
                resources: vec![],
                name: "sidecar",
                payload: b"{}",
                health_check: None,
                kill_policy: Some(KillPolicy {
                    grace_period_seconds: 7.0,
                }),
            }],
            volume: Some(Cow::Owned(VolumeRequest {
                persistence_id: "pg-0".into(),
                container_path: "data".into(),
                size_mb: 64.0,
                role: "db".into(),
                principal: Some("me".into()),
            })),
        };
        let stored = StoredRequest::from(&decoded);
        let lent = stored.view();
        assert_eq!(
            rmp_serde::to_vec(&lent).unwrap(),
            rmp_serde::to_vec(&decoded).unwrap()
        );
    }
}
