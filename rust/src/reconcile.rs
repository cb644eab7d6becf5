//! Reconciliation, the algorithm of the Mesos documentation: explicit
//! reconciliation of every non-terminal task, re-sent to the tasks still
//! unanswered with truncated exponential backoff, then one implicit
//! reconciliation. Offers are declined while it runs, and revived when it ends
//! (a new leader launches again at once, not once the filters expire). Tasks
//! that never answer are reported and flagged, never dropped.

use crate::effects::{Effect, ReconcileTask};
use crate::state::{Config, Id, OrdSet, Phase, State, TaskId};

/// Begin a reconciliation (the phase is idle).
pub fn start(state: &mut State, config: &Config, now: f64, out: &mut Vec<Effect>) {
    state.reconciliation.declined = false;
    if !state.offers.is_empty() {
        let offer_ids = state.offers.keys().cloned().collect();
        state.offers = Default::default();
        state.reconciliation.declined = true;
        out.push(Effect::Decline {
            offer_ids,
            refuse_seconds: config.reconcile_decline_seconds,
        });
    }
    let mut live: Vec<TaskId> = state
        .tasks
        .iter()
        .filter(|(_, t)| !t.state.is_terminal())
        .map(|(id, _)| id.clone())
        .collect();
    if live.is_empty() {
        out.push(Effect::Reconcile { tasks: Vec::new() });
        completed(state, now, out);
        return;
    }
    live.sort_unstable();
    out.push(Effect::Reconcile {
        tasks: reconcile_tasks(state, live.iter()),
    });
    out.push(Effect::Timer {
        round: 1,
        seconds: config.reconcile_delay(1),
    });
    state.reconciliation.phase = Phase::Explicit {
        round: 1,
        pending: live.into_iter().collect(),
        started_at: now,
    };
}

/// Hand back offers that came while reconciling or unsubscribed (sorted ids).
pub fn decline(state: &mut State, config: &Config, offer_ids: Vec<Id>, out: &mut Vec<Effect>) {
    if state.is_reconciling() {
        state.reconciliation.declined = true;
    }
    out.push(Effect::Decline {
        offer_ids,
        refuse_seconds: config.reconcile_decline_seconds,
    });
}

/// Note that `task_id` answered; true when it was the last one pending.
pub fn answered(state: &mut State, task_id: &str) -> bool {
    match &mut state.reconciliation.phase {
        Phase::Explicit { pending, .. } => pending.remove(task_id).is_some() && pending.is_empty(),
        Phase::Idle => false,
    }
}

/// A round's timer fired: re-send to the unanswered, or give up on them.
pub fn timeout(state: &mut State, config: &Config, fired: i64, now: f64, out: &mut Vec<Effect>) {
    let Phase::Explicit { round, pending, .. } = &mut state.reconciliation.phase else {
        return;
    };
    if i64::from(*round) != fired {
        return; // a timer of an earlier round or reconciliation
    }
    if *round >= config.reconcile_max_rounds {
        let unanswered: OrdSet<TaskId> = pending.clone();
        for id in &unanswered {
            if let Some(task) = state.tasks.get_mut(id) {
                task.unreconciled = true;
            }
        }
        out.push(Effect::Unreconciled {
            task_ids: unanswered.iter().cloned().collect(),
        });
        finish(state, now, out);
        return;
    }
    *round += 1;
    let round = *round;
    let pending = pending.clone();
    out.push(Effect::Reconcile {
        tasks: reconcile_tasks(state, pending.iter()),
    });
    out.push(Effect::Timer {
        round,
        seconds: config.reconcile_delay(round),
    });
}

/// Every task answered (or was reported): send the implicit reconciliation.
pub fn finish(state: &mut State, now: f64, out: &mut Vec<Effect>) {
    out.push(Effect::Reconcile { tasks: Vec::new() });
    state.reconciliation.phase = Phase::Idle;
    completed(state, now, out);
}

/// Drop a running reconciliation without counting it: it starts again on the
/// next subscription.
pub fn abort(state: &mut State) {
    state.reconciliation.phase = Phase::Idle;
    state.reconciliation.declined = false;
}

/// Count it; and if offers were declined meanwhile and offers are wanted,
/// REVIVE: Mesos clears the refuse filters of earlier declines on REVIVE, so
/// the offers come back now rather than `reconcile_decline_seconds` later.
fn completed(state: &mut State, now: f64, out: &mut Vec<Effect>) {
    state.reconciliation.completed += 1;
    state.reconciliation.last_completed_at = Some(now);
    if std::mem::take(&mut state.reconciliation.declined) && !state.suppressed {
        out.push(Effect::Revive);
    }
}

fn reconcile_tasks<'a>(state: &State, ids: impl Iterator<Item = &'a TaskId>) -> Vec<ReconcileTask> {
    ids.map(|id| ReconcileTask {
        task_id: id.clone(),
        agent_id: state.tasks.get(id).and_then(|t| t.agent_id.clone()),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Message, TaskState, TaskStatus};
    use crate::reducer::Reducer;
    use crate::state::Task;
    use std::sync::Arc;

    fn with_tasks(live: &[&str], ended: &[&str]) -> Reducer {
        let mut r = Reducer::default();
        for (ids, state) in [(live, TaskState::Running), (ended, TaskState::Finished)] {
            for id in ids {
                r.state.tasks.insert(
                    TaskId::from(*id),
                    Task {
                        state,
                        ..Task::staging(Some(Arc::from("a1")), 0.0)
                    },
                );
            }
        }
        r
    }

    fn step(r: &mut Reducer, m: Message<'_>, now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        r.step(m, now, &mut out).expect("step");
        out
    }

    fn subscribe(r: &mut Reducer) -> Vec<Effect> {
        step(
            r,
            Message::Subscribed {
                framework_id: "fw".into(),
                heartbeat_interval_seconds: None,
            },
            0.0,
        )
    }

    fn answer(task: &str) -> Message<'_> {
        Message::Update(TaskStatus {
            task_id: task,
            state: TaskState::Running,
            agent_id: None,
            executor_id: None,
            reason: Some("REASON_RECONCILIATION"),
            source: None,
            message: None,
            uuid: None,
            timestamp: None,
            healthy: None,
        })
    }

    fn task(id: &str) -> ReconcileTask {
        ReconcileTask {
            task_id: id.into(),
            agent_id: Some("a1".into()),
        }
    }

    #[test]
    fn explicit_then_implicit_once_all_answer() {
        let mut r = with_tasks(&["t2", "t1"], &["t0"]);
        let out = subscribe(&mut r);
        assert_eq!(
            out,
            vec![
                Effect::Reconcile {
                    tasks: vec![task("t1"), task("t2")]
                },
                Effect::Timer {
                    round: 1,
                    seconds: 2.0
                }
            ]
        );
        assert!(step(&mut r, answer("t1"), 1.0).is_empty());
        let out = step(&mut r, answer("t2"), 1.5);
        assert_eq!(out, vec![Effect::Reconcile { tasks: vec![] }]);
        assert_eq!(r.state.reconciliation.completed, 1);
        assert_eq!(r.state.reconciliation.phase, Phase::Idle);
    }

    #[test]
    fn backoff_is_truncated_and_unanswered_tasks_are_reported() {
        let mut r = with_tasks(&["t1", "t2"], &[]);
        r.config.reconcile_cap_seconds = 5.0;
        r.config.reconcile_max_rounds = 4;
        subscribe(&mut r);
        step(&mut r, answer("t2"), 0.5);
        let mut delays = Vec::new();
        for round in 1..4 {
            let out = step(
                &mut r,
                Message::ReconcileTimeout {
                    round: round.into(),
                },
                f64::from(round),
            );
            assert_eq!(
                out[0],
                Effect::Reconcile {
                    tasks: vec![task("t1")]
                }
            );
            let Effect::Timer { seconds, .. } = out[1] else {
                panic!("{out:?}")
            };
            delays.push(seconds);
        }
        assert_eq!(delays, vec![4.0, 5.0, 5.0]);
        let out = step(&mut r, Message::ReconcileTimeout { round: 4 }, 9.0);
        assert_eq!(
            out,
            vec![
                Effect::Unreconciled {
                    task_ids: vec!["t1".into()]
                },
                Effect::Reconcile { tasks: vec![] }
            ]
        );
        assert!(r.state.tasks.get("t1").unwrap().unreconciled);
        assert!(!r.state.is_reconciling());
    }

    #[test]
    fn stale_timers_are_ignored() {
        let mut r = with_tasks(&["t1"], &[]);
        subscribe(&mut r);
        assert!(step(&mut r, Message::ReconcileTimeout { round: 7 }, 1.0).is_empty());
        step(&mut r, answer("t1"), 1.0);
        assert!(step(&mut r, Message::ReconcileTimeout { round: 1 }, 2.0).is_empty());
    }

    #[test]
    fn offers_are_declined_while_reconciling() {
        let mut r = with_tasks(&["t1"], &[]);
        subscribe(&mut r);
        let offer = crate::messages::Offer {
            id: "o1".into(),
            agent_id: "a1".into(),
            hostname: "h".into(),
            resources: vec![],
            attributes: vec![],
            role: None,
            unavailability: None,
        };
        let out = step(&mut r, Message::Offers(vec![offer.clone(), offer]), 1.0);
        assert_eq!(
            out,
            vec![Effect::Decline {
                offer_ids: vec!["o1".into()],
                refuse_seconds: 5.0
            }]
        );
        assert!(r.state.offers.is_empty());
        // Every task answered: the filters of those declines are cleared.
        let out = step(&mut r, answer("t1"), 1.5);
        assert_eq!(
            out,
            vec![Effect::Reconcile { tasks: vec![] }, Effect::Revive]
        );
        assert!(!r.state.reconciliation.declined);
    }

    #[test]
    fn nothing_is_revived_when_nothing_was_declined_or_nothing_is_wanted() {
        let mut r = with_tasks(&["t1"], &[]);
        subscribe(&mut r);
        let out = step(&mut r, answer("t1"), 1.0);
        assert_eq!(out, vec![Effect::Reconcile { tasks: vec![] }]);
        let mut r = with_tasks(&["t1"], &[]);
        r.state.suppressed = true;
        subscribe(&mut r);
        r.state.reconciliation.declined = true;
        let out = step(&mut r, answer("t1"), 1.0);
        assert_eq!(out, vec![Effect::Reconcile { tasks: vec![] }]);
    }
}
