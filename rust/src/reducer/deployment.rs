//! Deployments: Marathon's rolling update of a request group
//! (docs/reducer.md, **Deployments**). The tasks of a group are replaced by
//! copies of a new template a few at a time, each kill of an old task
//! allowed only while enough tasks stay ready, and the previous version is
//! brought back the same way when the new one keeps failing.

use std::sync::Arc;

use super::Reducer;
use crate::effects::Effect;
use crate::error::CoreError;
use crate::messages::TaskState;
use crate::request::StoredRequest;
use crate::state::{Counted, Deployment, DeploymentPhase, Id, OrdSet, State, Tally, Task, TaskId};

/// Why a Deploy's numbers are malformed, if they are (Marathon's
/// `UpgradeStrategy` validation: both capacities in [0, 1], and not
/// 1 and 0 together, which could never make room for a new task).
pub fn invalid(
    instances: i64,
    minimum_health_capacity: f64,
    maximum_over_capacity: f64,
    max_failures: i64,
) -> Option<String> {
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    if u32::try_from(instances).is_err() {
        Some(format!(
            "a deployment's instances must be from 0 to 2^32-1, not {instances}"
        ))
    } else if !unit(minimum_health_capacity) || !unit(maximum_over_capacity) {
        Some(format!(
            "a deployment's minimum_health_capacity ({minimum_health_capacity}) and \
             maximum_over_capacity ({maximum_over_capacity}) must be from 0 to 1"
        ))
    } else if minimum_health_capacity == 1.0 && maximum_over_capacity == 0.0 {
        Some(
            "a deployment with minimum_health_capacity 1 and maximum_over_capacity 0 \
             could never replace a task"
                .into(),
        )
    } else if max_failures < 1 || u32::try_from(max_failures).is_err() {
        Some(format!(
            "a deployment's max_failures must be from 1 to 2^32-1, not {max_failures}"
        ))
    } else {
        None
    }
}

/// Is `task_id` a copy of `template` (`{template.task_id}-{k}`)?
pub fn of_version(task_id: &str, template: &StoredRequest) -> bool {
    task_id
        .strip_prefix(&*template.task_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
}

/// The one test of readiness: running, and healthy if its version has a
/// check (else not known to be unhealthy).
pub fn is_ready(task: &Task, checked: bool) -> bool {
    task.state == TaskState::Running
        && if checked {
            task.healthy == Some(true)
        } else {
            task.healthy != Some(false)
        }
}

/// A failure of a new task the deployment counts towards `max_failures`:
/// the launch backoff's failures, and a kill for failing its health check.
fn is_failure(state: TaskState, healthy: Option<bool>) -> bool {
    matches!(
        state,
        TaskState::Failed
            | TaskState::Error
            | TaskState::Lost
            | TaskState::Dropped
            | TaskState::Gone
    ) || (state == TaskState::Killed && healthy == Some(false))
}

/// Tasks of one version: how many are up (live or requested), how many ready.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Count {
    pub up: u32,
    pub ready: u32,
}

/// A group's tasks by version: the deployed template's, the previous
/// template's, and any other.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    pub template: Count,
    pub previous: Count,
    pub other: Count,
}

/// One live task (or request) of the deployment's group.
struct Member {
    task_id: TaskId,
    agent_id: Option<Id>,
    /// Of the version being brought up.
    target: bool,
    /// Still in the demand, not launched.
    requested: bool,
    ready: bool,
    killing: bool,
}

impl Deployment {
    /// The version being brought up: the template, or the previous one when
    /// rolling back.
    pub fn target(&self) -> Option<&Arc<StoredRequest>> {
        match self.phase {
            DeploymentPhase::Running | DeploymentPhase::Completed => Some(&self.template),
            DeploymentPhase::RollingBack | DeploymentPhase::RolledBack => self.previous.as_ref(),
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(
            self.phase,
            DeploymentPhase::Running | DeploymentPhase::RollingBack
        )
    }

    /// Whether a task of `task_id` is checked for health by its version.
    fn checked(&self, task_id: &str) -> bool {
        if of_version(task_id, &self.template) {
            self.template.has_health_check()
        } else {
            self.previous
                .as_ref()
                .is_some_and(|p| of_version(task_id, p) && p.has_health_check())
        }
    }

    fn floor(&self) -> u32 {
        (f64::from(self.instances) * self.minimum_health_capacity).floor() as u32
    }

    fn ceiling(&self) -> u32 {
        (f64::from(self.instances) * (1.0 + self.maximum_over_capacity)).ceil() as u32
    }
}

impl State {
    /// The live tasks and requests of `group`, by task id: the placed tasks
    /// first, then the demand in its order.
    fn members(&self, group: &str, d: &Deployment) -> Vec<Member> {
        let target = d.target();
        let is_target = |id: &str| target.is_some_and(|t| of_version(id, t));
        let mut members: Vec<Member> = self
            .groups
            .iter()
            .filter(|(_, g)| ***g == *group)
            .filter_map(|(id, _)| {
                let task = self.tasks.get(id.as_str())?;
                let killing = d.killing.contains(id);
                Some(Member {
                    task_id: id.clone(),
                    agent_id: task.agent_id.clone(),
                    target: is_target(id),
                    requested: false,
                    ready: !killing && is_ready(task, d.checked(id)),
                    killing,
                })
            })
            .collect();
        members.extend(
            self.demand
                .iter()
                .filter(|(_, r)| r.group() == group)
                .map(|(id, _)| Member {
                    task_id: id.clone(),
                    agent_id: None,
                    target: is_target(id),
                    requested: true,
                    ready: false,
                    killing: false,
                }),
        );
        members
    }

    /// The view's counts of the deployment of `group`.
    pub fn deployment_counts(&self, group: &str, d: &Deployment) -> Counts {
        let mut counts = Counts::default();
        for m in self.members(group, d) {
            let count = if of_version(&m.task_id, &d.template) {
                &mut counts.template
            } else if d
                .previous
                .as_ref()
                .is_some_and(|p| of_version(&m.task_id, p))
            {
                &mut counts.previous
            } else {
                &mut counts.other
            };
            count.up += 1;
            count.ready += u32::from(m.ready);
        }
        counts
    }
}

impl Tally {
    /// Count `task_id` as `member` (None: no longer a member) instead of as before.
    fn set(&mut self, task_id: &TaskId, member: Option<Counted>) {
        if let Some(old) = self.members.remove(task_id) {
            self.count(task_id, old, false);
        }
        if let Some(new) = member {
            self.members.insert(task_id.clone(), new);
            self.count(task_id, new, true);
        }
    }

    fn count(&mut self, task_id: &TaskId, m: Counted, add: bool) {
        let step = |n: &mut u32, yes: bool| {
            if yes {
                *n = if add { *n + 1 } else { *n - 1 };
            }
        };
        step(&mut self.ready, m.ready);
        step(&mut self.target_up, m.target);
        step(&mut self.target_ready, m.target && m.ready);
        step(&mut self.others, !m.target);
        let set = if m.requested {
            (!m.target).then_some(&mut self.stale)
        } else if m.target || m.killing {
            None
        } else if m.ready {
            Some(&mut self.ready_victims)
        } else {
            Some(&mut self.victims)
        };
        if let Some(set) = set {
            if add {
                set.insert(task_id.clone());
            } else {
                set.remove(task_id);
            }
        }
    }
}

impl State {
    /// The tally of the group of `d`, from a scan of its members.
    fn scan_tally(&self, group: &str, d: &Deployment) -> Tally {
        let mut tally = Tally::default();
        for m in self.members(group, d) {
            let counted = Counted {
                requested: m.requested,
                target: m.target,
                ready: m.ready,
                killing: m.killing,
            };
            tally.set(&m.task_id, Some(counted));
        }
        tally
    }

    /// Count `task_id` again in the tally of its group, after it changed:
    /// requested in `requested_in`, placed (its state, or being killed), or
    /// gone (withdrawn, ended). Costs the same whatever the group's size.
    pub(super) fn retally(&mut self, task_id: &str, requested_in: Option<&str>) {
        if self.tallies.is_empty() {
            return;
        }
        let group = match requested_in {
            Some(group) => Some(Id::from(group)),
            None => self.groups.get(task_id).cloned(),
        };
        let counted = group
            .as_ref()
            .and_then(|g| self.counted(g, task_id, requested_in.is_some()));
        let id = TaskId::from(task_id);
        if let (Some(group), Some(counted)) = (group, counted) {
            if let Some(tally) = self.tallies.get_mut(&group) {
                tally.set(&id, Some(counted));
            }
            return;
        }
        // Gone: out of whichever tally counted it.
        let known = self.tasks.contains_key(task_id);
        let counting: Vec<Id> = self
            .tallies
            .iter()
            .filter(|(_, t)| t.members.contains_key(&id))
            .map(|(g, _)| g.clone())
            .collect();
        for group in counting {
            let Some(tally) = self.tallies.get_mut(&group) else {
                continue;
            };
            let was = tally.members.get(&id).copied();
            tally.set(&id, None);
            // A copy withdrawn before it was launched frees its number.
            if let (Some(was), false) = (was, known) {
                if was.requested && was.target {
                    if let Some(k) = copy_number(&id) {
                        tally.next = tally.next.min(k);
                    }
                }
            }
        }
    }

    /// What `task_id` counts as in the active deployment of `group`.
    fn counted(&self, group: &Id, task_id: &str, requested: bool) -> Option<Counted> {
        self.tallies.get(group)?;
        let d = self.deployments.get(group)?;
        let target = d.target().is_some_and(|t| of_version(task_id, t));
        if requested {
            return Some(Counted {
                requested,
                target,
                ready: false,
                killing: false,
            });
        }
        let task = self.tasks.get(task_id)?;
        let killing = d.killing.contains(task_id);
        Some(Counted {
            requested,
            target,
            ready: !killing && is_ready(task, d.checked(task_id)),
            killing,
        })
    }
}

/// The `k` of a copy `{version}-{k}` as the deployment numbers them (no
/// leading zero), if it is one.
fn copy_number(task_id: &str) -> Option<u64> {
    let (_, k) = task_id.rsplit_once('-')?;
    let n: u64 = k.parse().ok()?;
    (n.to_string() == k).then_some(n)
}

impl Reducer {
    /// Start a deployment (docs/reducer.md, **Deploy**).
    pub(super) fn deploy(
        &mut self,
        group: String,
        template: StoredRequest,
        deployment: (u32, f64, f64, u32),
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let (instances, minimum_health_capacity, maximum_over_capacity, max_failures) = deployment;
        let state = &mut self.state;
        if group.is_empty() {
            return Err(CoreError::Rejected(
                "a deployment needs a group: the empty group is no group".into(),
            ));
        }
        if template.group() != group {
            return Err(CoreError::Rejected(format!(
                "the template's group {:?} is not the deployment's {group:?}",
                template.group()
            )));
        }
        let before = state.deployments.get(group.as_str());
        if before.is_some_and(Deployment::is_active) {
            return Err(CoreError::Rejected(format!(
                "group {group:?} has a deployment in progress: cancel it first"
            )));
        }
        let previous = before.and_then(|d| d.target().cloned());
        if previous
            .as_ref()
            .is_some_and(|p| p.task_id == template.task_id)
        {
            return Err(CoreError::Rejected(format!(
                "task id {:?} is the running version's: a new version needs a new task id",
                template.task_id
            )));
        }
        let group = Id::from(group);
        // Counted for the deployment it replaces: counted again.
        state.tallies.remove(&group);
        state.deployments.insert(
            group.clone(),
            Deployment {
                template: Arc::new(template),
                previous,
                instances,
                minimum_health_capacity,
                maximum_over_capacity,
                max_failures,
                failures: 0,
                phase: DeploymentPhase::Running,
                killing: OrdSet::new(),
            },
        );
        self.advance(&group, now, out);
        Ok(())
    }

    /// Roll back the running deployment of `group` (docs/reducer.md,
    /// **CancelDeployment**).
    pub(super) fn cancel_deployment(
        &mut self,
        group: &str,
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        match self.state.deployments.get(group) {
            Some(d) if d.phase == DeploymentPhase::Running => {}
            _ => {
                return Err(CoreError::Rejected(format!(
                    "group {group:?} has no running deployment to cancel"
                )))
            }
        }
        let group = Id::from(group);
        self.roll_back(&group, out);
        self.advance(&group, now, out);
        Ok(())
    }

    /// After an update of a task of `group` (read before a terminal state
    /// removed it from `groups`) was applied, or not (`applied` None).
    pub(super) fn deployment_update(
        &mut self,
        group: &Id,
        task_id: &str,
        applied: Option<(TaskState, Option<bool>)>,
        now: f64,
        out: &mut Vec<Effect>,
    ) {
        let Some(d) = self.state.deployments.get_mut(group) else {
            return;
        };
        if !d.is_active() {
            return;
        }
        if let Some((task_state, healthy)) = applied {
            if task_state.is_terminal() {
                d.killing.remove(task_id);
            }
            self.state.retally(task_id, None);
            let Some(d) = self.state.deployments.get_mut(group) else {
                return;
            };
            if d.phase == DeploymentPhase::Running
                && of_version(task_id, &d.template)
                && is_failure(task_state, healthy)
            {
                d.failures += 1;
                if d.failures >= d.max_failures {
                    self.roll_back(group, out);
                }
            }
        }
        self.advance(group, now, out);
    }

    /// On a Tick: advance every deployment in progress, in group order.
    pub(super) fn tick_deployments(&mut self, now: f64, out: &mut Vec<Effect>) {
        let active: Vec<Id> = self
            .state
            .deployments
            .iter()
            .filter(|(_, d)| d.is_active())
            .map(|(g, _)| g.clone())
            .collect();
        for group in active {
            self.advance(&group, now, out);
        }
    }

    /// Turn back to the previous version; without one, the deployed
    /// version's tasks are killed and its requests withdrawn at once.
    fn roll_back(&mut self, group: &Id, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        let Some(d) = state.deployments.get(group) else {
            return;
        };
        // Another target, or none: the group is counted again if need be.
        state.tallies.remove(group);
        if d.previous.is_some() {
            let mut d = d.clone();
            d.phase = DeploymentPhase::RollingBack;
            state.deployments.insert(group.clone(), d);
            return;
        }
        let mut d = d.clone();
        let (mut withdrawn, mut kills) = (Vec::new(), Vec::new());
        for m in state.members(group, &d) {
            if !of_version(&m.task_id, &d.template) || m.killing {
                continue;
            }
            if m.requested {
                withdrawn.push(m.task_id.to_string());
            } else {
                d.killing.insert(m.task_id.clone());
                kills.push(Effect::Kill {
                    task_id: m.task_id,
                    agent_id: m.agent_id,
                });
            }
        }
        d.phase = DeploymentPhase::RolledBack;
        state.deployments.insert(group.clone(), d);
        // As `advance` orders them: withdrawals, then kills.
        if !withdrawn.is_empty() {
            self.withdraw(&withdrawn, out);
        }
        out.extend(kills);
    }

    /// One step of the deployment of `group` towards its target version:
    /// withdraw requests of other versions, kill what the floor allows,
    /// request what the ceiling allows, and finish when only the target's
    /// `instances` ready tasks are left. Reads the group's tally, so that
    /// it costs what it does, whatever the group's size.
    fn advance(&mut self, group: &Id, now: f64, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        // Until reconciliation has said which tasks run, a task not yet
        // reported (a new leader's tracked ones) would look not ready and be
        // killed: a deployment moves only on what Mesos reported.
        if !state.registered || state.is_reconciling() {
            return;
        }
        let Some(d) = state.deployments.get(group) else {
            return;
        };
        if !d.is_active() {
            return;
        }
        let Some(target) = d.target().cloned() else {
            return;
        };
        let mut d = d.clone();
        let tally = match state.tallies.get(group) {
            Some(tally) => tally.clone(),
            None => {
                let tally = state.scan_tally(group, &d);
                state.tallies.insert(group.clone(), tally.clone());
                tally
            }
        };
        #[cfg(debug_assertions)]
        debug_assert_eq!(
            {
                let mut scanned = state.scan_tally(group, &d);
                scanned.next = tally.next;
                scanned
            },
            tally,
            "the tally of {group:?} drifted from its members"
        );
        let stale: Vec<String> = tally.stale.iter().map(|id| id.to_string()).collect();
        // Kills: the tasks of other versions, those not ready first (they
        // serve nothing), then ready ones while the ready stay at the floor.
        let mut ready = tally.ready;
        let floor = d.floor();
        let mut killed: Vec<TaskId> = tally.victims.iter().cloned().collect();
        for id in &tally.ready_victims {
            if ready <= floor {
                break;
            }
            ready -= 1;
            killed.push(id.clone());
        }
        let kills: Vec<Effect> = killed
            .iter()
            .map(|id| Effect::Kill {
                task_id: id.clone(),
                agent_id: state
                    .tasks
                    .get(id.as_str())
                    .and_then(|t| t.agent_id.clone()),
            })
            .collect();
        for id in &killed {
            d.killing.insert(id.clone());
        }
        // Launches: the target's missing copies, as the ceiling allows.
        let up = tally.members.len() as u32 - stale.len() as u32;
        let wanted = d
            .instances
            .saturating_sub(tally.target_up)
            .min(d.ceiling().saturating_sub(up));
        let completed = stale.is_empty()
            && kills.is_empty()
            && wanted == 0
            && tally.target_up == d.instances
            && tally.target_ready == d.instances
            && tally.others == 0;
        if completed {
            d.phase = match d.phase {
                DeploymentPhase::Running => DeploymentPhase::Completed,
                _ => DeploymentPhase::RolledBack,
            };
            d.killing = OrdSet::new();
            state.tallies.remove(group);
        }
        state.deployments.insert(group.clone(), d);
        for id in &killed {
            state.retally(id, None);
        }
        if !stale.is_empty() {
            self.withdraw(&stale, out);
        }
        out.extend(kills);
        if wanted == 0 {
            return;
        }
        let state = &mut self.state;
        let Some(tally) = state.tallies.get_mut(group) else {
            return;
        };
        // The least numbers free: the tally's `next` and on.
        let mut k = tally.next;
        let mut due = Vec::new();
        while due.len() < wanted as usize {
            let id = TaskId::from(format!("{}-{k}", target.task_id));
            k += 1;
            if !state.tasks.contains_key(id.as_str()) && !tally.members.contains_key(&id) {
                due.push((id.clone(), Arc::new(target.with_task_id(&id))));
            }
        }
        tally.next = k;
        if state.demand.is_empty() {
            // As a Request: demand appears, offers are wanted again.
            state.suppressed = false;
            out.push(Effect::Revive);
        }
        for (id, _) in &due {
            state.retally(id, Some(group));
        }
        state.demand.extend(due);
        self.run_matching(now, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Message, TaskStatus};
    use crate::reducer::tests::{cpus, offer, step};
    use crate::request::{RequestResource, TaskRequest};
    use crate::state::Config;

    fn template(task_id: &str) -> StoredRequest {
        StoredRequest::from(&TaskRequest {
            task_id,
            resources: vec![RequestResource {
                name: "cpus",
                scalar: Some(1.0),
                ranges: None,
                set: None,
                role: "*",
                reservations: vec![],
                persistence_id: None,
                container_path: None,
            }],
            group: "web",
            ..Default::default()
        })
    }

    fn deploy(task_id: &str, instances: u32, minimum_health_capacity: f64) -> Message<'static> {
        Message::Deploy {
            group: "web".into(),
            template: template(task_id),
            instances,
            minimum_health_capacity,
            maximum_over_capacity: 0.5,
            max_failures: 2,
        }
    }

    fn status(task_id: &str, state: TaskState) -> Message<'_> {
        Message::Update(TaskStatus {
            task_id,
            state,
            agent_id: Some("a1"),
            executor_id: None,
            reason: None,
            source: None,
            message: None,
            uuid: None,
            timestamp: None,
            healthy: None,
        })
    }

    fn killed(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Kill { task_id, .. } => Some(task_id.to_string()),
                _ => None,
            })
            .collect()
    }

    fn launched(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Accept(a) => Some(&a.launches),
                _ => None,
            })
            .flatten()
            .map(|l| l.task_id.to_string())
            .collect()
    }

    fn phase(r: &Reducer) -> DeploymentPhase {
        r.state.deployments.get("web").unwrap().phase
    }

    fn subscribed() -> Reducer {
        let mut r = Reducer::new(Config::default());
        step(
            &mut r,
            Message::Subscribed {
                framework_id: "fw".into(),
                heartbeat_interval_seconds: None,
            },
            0.0,
        );
        r
    }

    #[test]
    fn versions_are_told_apart_by_a_numeric_suffix() {
        let t = template("web-v2");
        assert!(of_version("web-v2-0", &t) && of_version("web-v2-17", &t));
        assert!(!of_version("web-v2", &t) && !of_version("web-v2-", &t));
        assert!(!of_version("web-v2-1-0", &t) && !of_version("web-v20-1", &t));
    }

    #[test]
    fn malformed_numbers_are_named() {
        assert!(invalid(3, 1.0, 1.0, 3).is_none());
        assert!(invalid(-1, 1.0, 1.0, 3).unwrap().contains("instances"));
        assert!(invalid(3, 1.5, 1.0, 3).is_some());
        assert!(invalid(3, f64::NAN, 1.0, 3).is_some());
        assert!(invalid(3, 1.0, 0.0, 3).unwrap().contains("never"));
        assert!(invalid(3, 1.0, 1.0, 0).is_some());
    }

    /// v1 from nothing, then v2 over it: an old task goes only once a new
    /// one is ready and the floor allows, and v2 completes alone.
    #[test]
    fn a_rolling_update_replaces_one_ready_task_at_a_time() {
        let mut r = subscribed();
        step(&mut r, deploy("v1", 2, 1.0), 1.0);
        let out = step(
            &mut r,
            Message::Offers(vec![offer("o1", "a1", vec![cpus(8.0)])]),
            1.0,
        );
        assert_eq!(launched(&out), vec!["v1-0", "v1-1"]);
        step(&mut r, status("v1-0", TaskState::Running), 2.0);
        assert_eq!(phase(&r), DeploymentPhase::Running);
        step(&mut r, status("v1-1", TaskState::Running), 2.0);
        assert_eq!(phase(&r), DeploymentPhase::Completed);

        // Floor 2, ceiling 3: one new copy at a time.
        step(&mut r, deploy("v2", 2, 1.0), 3.0);
        let out = step(
            &mut r,
            Message::Offers(vec![offer("o2", "a1", vec![cpus(8.0)])]),
            3.0,
        );
        assert_eq!(launched(&out), vec!["v2-0"]);
        let out = step(&mut r, status("v2-0", TaskState::Running), 4.0);
        assert_eq!(killed(&out), vec!["v1-0"]);
        // Killed, not yet gone: still up, so no room for v2-1.
        assert!(r.state.demand.is_empty());
        step(&mut r, status("v1-0", TaskState::Killed), 5.0);
        assert_eq!(r.state.demand.len(), 1);
        let out = step(
            &mut r,
            Message::Offers(vec![offer("o3", "a1", vec![cpus(8.0)])]),
            5.0,
        );
        assert_eq!(launched(&out), vec!["v2-1"]);
        assert_eq!(
            killed(&step(&mut r, status("v2-1", TaskState::Running), 6.0)),
            vec!["v1-1"]
        );
        step(&mut r, status("v1-1", TaskState::Killed), 7.0);
        assert_eq!(phase(&r), DeploymentPhase::Completed);
        let d = r.state.deployments.get("web").unwrap().clone();
        assert_eq!(
            r.state.deployment_counts("web", &d).template,
            Count { up: 2, ready: 2 }
        );
    }

    #[test]
    fn failing_new_tasks_roll_back_to_the_previous_version() {
        let mut r = subscribed();
        step(&mut r, deploy("v1", 1, 0.0), 1.0);
        step(
            &mut r,
            Message::Offers(vec![offer("o1", "a1", vec![cpus(8.0)])]),
            1.0,
        );
        step(&mut r, status("v1-0", TaskState::Running), 2.0);
        assert_eq!(phase(&r), DeploymentPhase::Completed);
        // Floor 0: v1-0 may go at once.
        let out = step(&mut r, deploy("v2", 1, 0.0), 3.0);
        assert_eq!(killed(&out), vec!["v1-0"]);
        step(&mut r, status("v1-0", TaskState::Killed), 3.0);
        for (n, at) in [(0, 4.0), (1, 10.0)] {
            let out = step(
                &mut r,
                Message::Offers(vec![offer(&format!("p{n}"), "a1", vec![cpus(8.0)])]),
                at,
            );
            assert_eq!(launched(&out), vec![format!("v2-{n}")]);
            step(&mut r, status(&format!("v2-{n}"), TaskState::Failed), at);
        }
        assert_eq!(phase(&r), DeploymentPhase::RollingBack);
        let out = step(
            &mut r,
            Message::Offers(vec![offer("p9", "a1", vec![cpus(8.0)])]),
            20.0,
        );
        assert_eq!(launched(&out), vec!["v1-1"]);
        step(&mut r, status("v1-1", TaskState::Running), 21.0);
        assert_eq!(phase(&r), DeploymentPhase::RolledBack);
        // The next deployment replaces v1 again.
        assert!(r.step(deploy("v1", 1, 0.0), 22.0, &mut Vec::new()).is_err());
    }
}
