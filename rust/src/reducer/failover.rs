//! What a new leader restores of the tasks an earlier one placed: each
//! launch's request is kept while its task lives (`requests`), the store
//! writes it beside the launch's intent, and a `Track` that carries it gives
//! the task back what its placement gave (docs/reducer.md, Track).

use std::sync::Arc;

use imbl::OrdMap;

use super::Reducer;
use crate::effects::Effect;
use crate::error::CoreError;
use crate::request::StoredRequest;
use crate::state::{Deployment, Id, Task, TaskId, Volume};

/// Keep the request a placed task was made from: a stateful task's is its
/// `stateful` entry (what its restarts are named and placed from), a pod
/// member's is its pod's.
pub(super) fn placed(
    requests: &mut OrdMap<TaskId, Arc<StoredRequest>>,
    stateful: &OrdMap<TaskId, Arc<StoredRequest>>,
    task_id: &TaskId,
    request: &Arc<StoredRequest>,
) {
    let mut members = request.member_ids().peekable();
    if members.peek().is_none() {
        let kept = stateful.get(task_id).unwrap_or(request);
        requests.insert(task_id.clone(), kept.clone());
    } else {
        for member in members {
            requests.insert(TaskId::from(member), request.clone());
        }
    }
}

impl Reducer {
    /// `Track`: an unknown task is recorded as launched on `agent_id`; with
    /// its request, it also gets back its group, pod, unreachable strategy,
    /// `stateful` entry and volume, as if this reducer had placed it.
    pub(super) fn track(
        &mut self,
        task_id: &str,
        agent_id: Option<&str>,
        request: Option<Arc<StoredRequest>>,
        now: f64,
    ) {
        if self.state.tasks.get(task_id).is_some() {
            return;
        }
        let agent_id = agent_id.map(|a| self.interner.intern(a));
        let id = TaskId::from(task_id);
        self.state
            .tasks
            .insert(id.clone(), Task::staging(agent_id.clone(), now));
        let Some(request) = request else {
            return;
        };
        let group = self.interner.intern(request.group());
        let state = &mut self.state;
        state.groups.insert(id.clone(), group);
        if request.member_ids().any(|m| m == task_id) {
            state.pods.insert(id.clone(), Id::from(&*request.task_id));
        }
        if request.unreachable.is_some() {
            state.strategies.insert(id.clone(), request.clone());
        }
        if let Some(volume) = request.volume.as_deref() {
            state.stateful.insert(id.clone(), request.clone());
            // Created with the launch: a volume in use is not offered, and
            // the task's restart must find it on its agent, not make another.
            if let Some(agent_id) = agent_id {
                let known = Id::from(volume.persistence_id.as_str());
                if !state.volumes.contains_key(&known) {
                    let record = Volume {
                        agent_id,
                        role: volume.role.clone(),
                        size: volume.size_mb,
                        container_path: Some(volume.container_path.clone()),
                        principal: volume.principal.clone(),
                    };
                    state.volumes.insert(known, Arc::new(record));
                }
            }
        }
        state.requests.insert(id, request);
    }

    /// `ResumeDeployment`: a stored deployment becomes the group's, unless
    /// the group has one already; the next Tick after reconciliation moves it.
    pub(super) fn resume_deployment(
        &mut self,
        group: String,
        deployment: Deployment,
    ) -> Result<(), CoreError> {
        if group.is_empty() || deployment.template.group() != group {
            return Err(CoreError::Rejected(format!(
                "a deployment of group {group:?} needs a template of that group, not {:?}",
                deployment.template.group()
            )));
        }
        let group = self.interner.intern(&group);
        if !self.state.deployments.contains_key(&group) {
            self.state.deployments.insert(group, deployment);
        }
        Ok(())
    }

    /// `ResumeRelease`: a volume a Replace was giving up is known again
    /// (unless an offer showed it already) and given up when offered; a task
    /// still live on it is killed (the old leader's Kill may not have gone out).
    pub(super) fn resume_release(&mut self, id: Id, volume: Volume, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        if !state.volumes.contains_key(&id) {
            let agent_id = self.interner.intern(&volume.agent_id);
            state
                .volumes
                .insert(id.clone(), Arc::new(Volume { agent_id, ..volume }));
        }
        for (task_id, request) in state.stateful.iter() {
            let on_it = request
                .volume
                .as_deref()
                .is_some_and(|v| *v.persistence_id == *id);
            let live = state.tasks.get(task_id).filter(|t| !t.state.is_terminal());
            if let (true, Some(task)) = (on_it, live) {
                out.push(Effect::Kill {
                    task_id: task_id.clone(),
                    agent_id: task.agent_id.clone(),
                });
            }
        }
        state.releasing.insert(id);
        state.revive_to_give_back(out);
    }
}
