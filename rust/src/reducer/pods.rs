//! Pods: tasks launched together as one LAUNCH_GROUP. Each member is a task
//! like any other (tracked, acknowledged and reconciled on its own); the
//! state remembers each member's pod, so that a Kill naming the pod kills
//! every member, and a pod counts once for its group's constraints (see
//! docs/reducer.md, **Pods**).

use crate::effects::Effect;
use crate::error::CoreError;
use crate::messages::PodTask;
use crate::state::{Id, State, Task, TaskId};

/// Kill a task, or every live member of a pod (see docs/reducer.md, **Kill**).
pub(super) fn kill(state: &State, task_id: &str, out: &mut Vec<Effect>) -> Result<(), CoreError> {
    if let Some((id, task)) = state.tasks.get_key_value(task_id) {
        if !task.state.is_terminal() {
            out.push(Effect::Kill {
                task_id: id.clone(),
                agent_id: task.agent_id.clone(),
            });
        }
        return Ok(());
    }
    let mut found = false;
    // Members in id order (the map's order).
    for (member, _) in state.pods.iter().filter(|(_, pod)| &***pod == task_id) {
        found = true;
        let Some(task) = state.tasks.get(member.as_str()) else {
            continue;
        };
        if !task.state.is_terminal() {
            out.push(Effect::Kill {
                task_id: member.clone(),
                agent_id: task.agent_id.clone(),
            });
        }
    }
    if found {
        Ok(())
    } else {
        Err(CoreError::Rejected(format!("no task {task_id:?} to kill")))
    }
}

/// Record a launched pod's members as staging tasks of `agent_id`.
pub(super) fn record_members(
    state: &mut State,
    pod_id: &Id,
    members: &[PodTask],
    agent_id: &Id,
    now: f64,
) {
    for member in members {
        let task_id = TaskId::from(member.task_id.as_str());
        state
            .tasks
            .insert(task_id.clone(), Task::staging(Some(agent_id.clone()), now));
        state.pods.insert(task_id, pod_id.clone());
    }
}
