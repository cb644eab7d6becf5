//! Reconciliation, the algorithm of the Mesos documentation: explicit
//! reconciliation of every non-terminal task, re-sent to the tasks still
//! unanswered with truncated exponential backoff, then one implicit
//! reconciliation. Offers are declined while it runs. Tasks that never answer
//! are reported and flagged, never dropped.

use crate::effects::{Effect, ReconcileTask};
use crate::state::{Config, Id, OrdSet, Phase, State};

/// Begin a reconciliation (the phase is idle).
pub fn start(state: &mut State, config: &Config, now: f64, out: &mut Vec<Effect>) {
    if !state.offers.is_empty() {
        out.push(Effect::Decline {
            offer_ids: state.offers.keys().map(|id| id.to_string()).collect(),
            refuse_seconds: config.reconcile_decline_seconds,
        });
        state.offers = Default::default();
    }
    let mut live: Vec<Id> = state
        .tasks
        .iter()
        .filter(|(_, t)| !t.state.is_terminal())
        .map(|(id, _)| id.clone())
        .collect();
    if live.is_empty() {
        out.push(Effect::Reconcile { tasks: Vec::new() });
        completed(state, now);
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

/// Note that `task_id` answered; true when it was the last one pending.
pub fn answered(state: &mut State, task_id: &str) -> bool {
    match &mut state.reconciliation.phase {
        Phase::Explicit { pending, .. } => pending.remove(task_id).is_some() && pending.is_empty(),
        Phase::Idle => false,
    }
}

/// A round's timer fired: re-send to the unanswered, or give up on them.
pub fn timeout(state: &mut State, config: &Config, fired: u32, now: f64, out: &mut Vec<Effect>) {
    let Phase::Explicit { round, pending, .. } = &mut state.reconciliation.phase else {
        return;
    };
    if *round != fired {
        return; // a timer of an earlier round or reconciliation
    }
    if *round >= config.reconcile_max_rounds {
        let unanswered: OrdSet<Id> = pending.clone();
        for id in &unanswered {
            if let Some(task) = state.tasks.get_mut(id) {
                task.unreconciled = true;
            }
        }
        out.push(Effect::Unreconciled {
            task_ids: unanswered.iter().map(|id| id.to_string()).collect(),
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
    completed(state, now);
}

/// Drop a running reconciliation without counting it: it starts again on the
/// next subscription.
pub fn abort(state: &mut State) {
    state.reconciliation.phase = Phase::Idle;
}

fn completed(state: &mut State, now: f64) {
    state.reconciliation.completed += 1;
    state.reconciliation.last_completed_at = Some(now);
}

fn reconcile_tasks<'a>(state: &State, ids: impl Iterator<Item = &'a Id>) -> Vec<ReconcileTask> {
    ids.map(|id| ReconcileTask {
        task_id: id.to_string(),
        agent_id: state
            .tasks
            .get(id)
            .and_then(|t| t.agent_id.as_deref())
            .map(str::to_owned),
    })
    .collect()
}
