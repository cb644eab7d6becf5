//! Unreachable strategies: a placed task whose agent is unreachable is
//! replaced after a while, and one copy goes when it comes back
//! (docs/reducer.md, Partitions; Marathon's `unreachableStrategy`).

use std::sync::Arc;

use super::Reducer;
use crate::effects::Effect;
use crate::messages::TaskState;
use crate::request::KillSelection;
use crate::state::{TaskId, Unreachable};

impl Reducer {
    /// After an update of `task_id` was applied (or not): follow its record.
    pub(super) fn unreachable_update(&mut self, task_id: &str, now: f64, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        let Some(task) = state.tasks.get(task_id) else {
            return;
        };
        let (task_state, agent_id) = (task.state, task.agent_id.clone());
        if task_state.is_terminal() {
            state.strategies.remove(task_id);
            state.unreachable.remove(task_id);
            return;
        }
        match task_state {
            TaskState::Unreachable => {
                if state.strategies.contains_key(task_id)
                    && !state.unreachable.contains_key(task_id)
                {
                    state.unreachable.insert(
                        TaskId::from(task_id),
                        Unreachable {
                            since: now,
                            replacement: None,
                            expunged: false,
                        },
                    );
                }
                return;
            }
            TaskState::Unknown => return,
            _ => {}
        }
        // It came back.
        let Some(entry) = state.unreachable.remove(task_id) else {
            return;
        };
        if entry.expunged {
            out.push(Effect::Kill {
                task_id: TaskId::from(task_id),
                agent_id,
            });
            return;
        }
        let Some(r) = entry.replacement else {
            return;
        };
        let in_demand = state.demand.iter().any(|(id, _)| *id == r);
        let live = state.tasks.get(r.as_str()).filter(|t| !t.state.is_terminal());
        if !in_demand && live.is_none() {
            // The replacement is gone: the old task is the only copy.
            return;
        }
        let selection = state
            .strategies
            .get(task_id)
            .and_then(|s| s.unreachable)
            .map(|s| s.kill_selection)
            .unwrap_or_default();
        match (selection, live) {
            (KillSelection::OldestFirst, _) => out.push(Effect::Kill {
                task_id: TaskId::from(task_id),
                agent_id,
            }),
            (KillSelection::YoungestFirst, Some(replacement)) if !in_demand => {
                out.push(Effect::Kill {
                    agent_id: replacement.agent_id.clone(),
                    task_id: r,
                })
            }
            (KillSelection::YoungestFirst, _) => self.withdraw(&[r.to_string()], out),
        }
    }

    /// On a Tick: request the replacements now due, mark the expunged, and
    /// match the new demand.
    pub(super) fn unreachable_tick(&mut self, now: f64, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        if state.unreachable.is_empty() {
            return;
        }
        let mut due = Vec::new();
        let ids: Vec<TaskId> = state.unreachable.keys().cloned().collect();
        for task_id in ids {
            let Some(request) = state.strategies.get(&task_id).cloned() else {
                continue;
            };
            let Some(strategy) = request.unreachable else {
                continue;
            };
            let Some(entry) = state.unreachable.get(&task_id).cloned() else {
                continue;
            };
            if entry.expunged {
                continue;
            }
            let mut changed = entry.clone();
            if entry.replacement.is_none() && entry.since + strategy.inactive_after_seconds <= now
            {
                let taken = |id: &str| {
                    state.tasks.contains_key(id)
                        || state.demand.iter().any(|(d, _)| d == id)
                        || due.iter().any(|(d, _): &(TaskId, _)| d == id)
                };
                let new_id = (1u64..)
                    .map(|n| TaskId::from(format!("{task_id}.{n}")))
                    .find(|id| !taken(id))
                    .expect("some suffix is free");
                changed.replacement = Some(new_id.clone());
                due.push((new_id.clone(), Arc::new(request.with_task_id(&new_id))));
            }
            if entry.since + strategy.expunge_after_seconds <= now {
                changed.expunged = true;
            }
            if changed != entry {
                state.unreachable.insert(task_id, changed);
            }
        }
        if due.is_empty() {
            return;
        }
        if state.demand.is_empty() {
            // As a Request: demand appears, offers are wanted again.
            state.suppressed = false;
            out.push(Effect::Revive);
        }
        state.demand.extend(due);
        self.run_matching(now, out);
    }
}
