//! Unreachable strategies: a placed task whose agent is unreachable is
//! replaced after a while, and one copy goes when it comes back
//! (docs/reducer.md, Partitions; Marathon's `unreachableStrategy`).

use std::sync::Arc;

use rustc_hash::FxHashSet as HashSet;

use super::Reducer;
use crate::effects::Effect;
use crate::messages::TaskState;
use crate::request::{KillSelection, StoredRequest};
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
        let live = state
            .tasks
            .get(r.as_str())
            .filter(|t| !t.state.is_terminal());
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
        let mut due: Vec<(TaskId, Arc<StoredRequest>)> = Vec::new();
        // The ids in demand, collected once the first replacement is due: a
        // Tick may replace thousands of tasks of a lost rack.
        let mut requested: Option<HashSet<TaskId>> = None;
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
            if entry.replacement.is_none() && entry.since + strategy.inactive_after_seconds <= now {
                let requested = requested
                    .get_or_insert_with(|| state.demand.iter().map(|(id, _)| id.clone()).collect());
                let new_id = (1u64..)
                    .map(|n| TaskId::from(format!("{task_id}.{n}")))
                    .find(|id| !state.tasks.contains_key(id.as_str()) && !requested.contains(id))
                    .expect("some suffix is free");
                requested.insert(new_id.clone());
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
        for (id, request) in &due {
            state.retally(id, Some(request.group()));
        }
        state.demand.extend(due);
        self.run_matching(now, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Message;
    use crate::reducer::tests::{cpus, offer, step, update};
    use crate::request::{RequestResource, StoredRequest, TaskRequest, UnreachableStrategy};
    use crate::state::Id;

    fn offers(id: &str, agent: &str) -> Message<'static> {
        Message::Offers(vec![offer(id, agent, vec![cpus(4.0)])])
    }

    fn kill(task: &str, agent: &str) -> Effect {
        Effect::Kill {
            task_id: TaskId::from(task),
            agent_id: Some(Id::from(agent)),
        }
    }

    /// `web` placed on a1, unreachable at 100, replaced by `web.1` on a2 at 110.
    fn replaced(kill_selection: KillSelection) -> Reducer {
        let mut r = Reducer::default();
        let subscribed = Message::Subscribed {
            framework_id: "fw".into(),
            heartbeat_interval_seconds: None,
        };
        step(&mut r, subscribed, 0.0);
        let request = TaskRequest {
            task_id: "web",
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
            unreachable: Some(UnreachableStrategy {
                inactive_after_seconds: 10.0,
                expunge_after_seconds: 20.0,
                kill_selection,
            }),
            ..Default::default()
        };
        let tasks = vec![StoredRequest::from(&request)];
        step(&mut r, Message::Request { tasks }, 1.0);
        step(&mut r, offers("o1", "a1"), 2.0);
        step(&mut r, update("web", TaskState::Unreachable, "a1"), 100.0);
        assert!(step(&mut r, Message::Tick, 109.0).is_empty());
        assert_eq!(step(&mut r, Message::Tick, 110.0), vec![Effect::Revive]);
        let out = step(&mut r, offers("o2", "a2"), 111.0);
        assert!(matches!(&out[0], Effect::Accept(a) if &*a.agent_id == "a2"));
        step(&mut r, update("web.1", TaskState::Running, "a2"), 112.0);
        let entry = r.state.unreachable.get("web").expect("recorded");
        assert_eq!(entry.replacement.as_deref(), Some("web.1"));
        r
    }

    #[test]
    fn youngest_first_kills_the_replacement_when_the_old_task_comes_back() {
        let mut r = replaced(KillSelection::YoungestFirst);
        let out = step(&mut r, update("web", TaskState::Running, "a1"), 113.0);
        assert_eq!(out, vec![kill("web.1", "a2")]);
        assert!(r.state.unreachable.is_empty());
    }

    #[test]
    fn oldest_first_kills_the_old_task_when_it_comes_back() {
        let mut r = replaced(KillSelection::OldestFirst);
        let out = step(&mut r, update("web", TaskState::Running, "a1"), 113.0);
        assert_eq!(out, vec![kill("web", "a1")]);
    }

    #[test]
    fn past_expunge_after_it_is_killed_when_it_comes_back() {
        let mut r = replaced(KillSelection::YoungestFirst);
        assert!(step(&mut r, Message::Tick, 120.0).is_empty());
        assert!(r.state.unreachable.get("web").expect("kept").expunged);
        let out = step(&mut r, update("web", TaskState::Running, "a1"), 121.0);
        assert_eq!(out, vec![kill("web", "a1")]);
    }

    #[test]
    fn an_end_forgets_the_task() {
        let mut r = replaced(KillSelection::YoungestFirst);
        step(&mut r, update("web", TaskState::Gone, "a1"), 113.0);
        assert!(r.state.unreachable.is_empty());
        assert!(!r.state.strategies.contains_key("web"));
        assert!(r.state.strategies.contains_key("web.1"));
    }
}
