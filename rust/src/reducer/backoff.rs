//! Launch backoff: Marathon's launch delay, per request group (see
//! docs/reducer.md, **Launch backoff**). A group whose tasks fail is held
//! out of the matching cycle for a delay that grows with each failure, and
//! resets once one of its tasks has run for `backoff_reset_seconds`.

use std::sync::Arc;

use super::Reducer;
use crate::effects::Effect;
use crate::messages::TaskState;
use crate::state::{Backoff, Config, Id, State};

/// The pending reason of a request its group's delay holds back.
pub const REASON: &str = "launch backoff";

/// A failure the group is to blame for; FINISHED, KILLED and
/// GONE_BY_OPERATOR were asked for (or are a success), and do not count.
fn is_failure(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Failed
            | TaskState::Error
            | TaskState::Lost
            | TaskState::Dropped
            | TaskState::Gone
    )
}

impl Config {
    /// The delay after a failure, given the group's delay before it (if any).
    pub fn backoff_delay(&self, before: Option<f64>) -> f64 {
        match before {
            None => self.backoff_seconds,
            Some(delay) => (delay * self.backoff_factor).min(self.backoff_max_seconds),
        }
    }
}

/// Whether a status applied in `task_state` may change a backoff: the
/// group lookup is skipped for the rest, most of an update storm.
pub(super) fn concerns(state: &State, task_state: TaskState) -> bool {
    is_failure(task_state) || (task_state == TaskState::Running && !state.backoffs.is_empty())
}

/// A status was applied to a task of `group`, now in `task_state`.
pub(super) fn task_changed(
    state: &mut State,
    config: &Config,
    group: &Id,
    task_state: TaskState,
    now: f64,
) {
    if group.is_empty() {
        return;
    }
    if is_failure(task_state) {
        let delay = config.backoff_delay(state.backoffs.get(group).map(|b| b.delay));
        state.backoffs.insert(
            group.clone(),
            Backoff {
                delay,
                until: Some(now + delay),
                stable_since: None,
            },
        );
    } else if task_state == TaskState::Running {
        if let Some(b) = state.backoffs.get_mut(group) {
            if b.stable_since.is_none() {
                b.stable_since = Some(now);
            }
        }
    }
}

/// Is a request of `group` held back at `now`?
pub(super) fn holds(state: &State, group: &str, now: f64) -> bool {
    !state.backoffs.is_empty()
        && state
            .backoffs
            .get(group)
            .and_then(|b| b.until)
            .is_some_and(|until| until > now)
}

impl Reducer {
    /// The backoff part of a `Tick`: delays that ended are cleared, stable
    /// groups forgotten, and if a waiting request's delay ended, REVIVE
    /// brings back at once the offers declined while it was held.
    pub(super) fn tick_backoffs(&mut self, now: f64, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        if state.backoffs.is_empty() {
            return;
        }
        let reset = self.config.backoff_reset_seconds;
        let mut ended: Vec<Id> = Vec::new();
        // Few groups back off at once: a copy of their names is cheap.
        let groups: Vec<Id> = state.backoffs.keys().map(Arc::clone).collect();
        for group in groups {
            let Some(b) = state.backoffs.get_mut(&group) else {
                continue;
            };
            let mut over = b.until.is_some_and(|until| until <= now);
            if over {
                b.until = None;
            }
            if b.stable_since.is_some_and(|since| since + reset <= now) {
                over |= b.until.is_some();
                state.backoffs.remove(&group);
            }
            if over {
                ended.push(group);
            }
        }
        if !ended.is_empty()
            && state
                .demand
                .iter()
                .any(|(_, r)| ended.iter().any(|g| **g == *r.group()))
        {
            state.suppressed = false;
            out.push(Effect::Revive);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_at_backoff_seconds_and_grows_to_the_cap() {
        let config = Config::default();
        let mut delay = None;
        let mut delays = Vec::new();
        for _ in 0..3 {
            delay = Some(config.backoff_delay(delay));
            delays.push(delay.unwrap());
        }
        assert_eq!(delays, vec![1.0, 1.15, 1.15 * 1.15]);
        assert_eq!(config.backoff_delay(Some(299.0)), 300.0);
    }

    #[test]
    fn a_failure_delays_its_group_and_running_starts_the_stable_clock() {
        let config = Config::default();
        let mut state = State::default();
        let g: Id = Id::from("web");
        task_changed(&mut state, &config, &g, TaskState::Failed, 10.0);
        assert!(holds(&state, "web", 10.5));
        assert!(!holds(&state, "web", 11.0));
        assert!(!holds(&state, "db", 10.5));
        task_changed(&mut state, &config, &g, TaskState::Running, 12.0);
        task_changed(&mut state, &config, &g, TaskState::Running, 13.0);
        assert_eq!(state.backoffs.get("web").unwrap().stable_since, Some(12.0));
        task_changed(&mut state, &config, &g, TaskState::Lost, 14.0);
        let b = state.backoffs.get("web").unwrap();
        assert_eq!(
            (b.delay, b.until, b.stable_since),
            (1.15, Some(15.15), None)
        );
    }

    #[test]
    fn asked_for_ends_and_the_empty_group_never_back_off() {
        let config = Config::default();
        let mut state = State::default();
        for s in [
            TaskState::Finished,
            TaskState::Killed,
            TaskState::GoneByOperator,
        ] {
            task_changed(&mut state, &config, &Id::from("web"), s, 1.0);
        }
        task_changed(&mut state, &config, &Id::from(""), TaskState::Failed, 1.0);
        assert!(state.backoffs.is_empty());
    }

    /// Through `Reducer::step`: a failure holds the group's next request
    /// (its offers declined with the short filter), and the Tick that ends
    /// the delay revives.
    #[test]
    fn the_reducer_holds_a_failed_group_until_a_tick_ends_its_delay() {
        use crate::messages::{Message, TaskStatus};
        use crate::reducer::tests::{cpus, offer};
        use crate::request::{RequestResource, StoredRequest, TaskRequest};

        let request = |id: &str| Message::Request {
            tasks: vec![StoredRequest::from(&TaskRequest {
                task_id: id,
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
            })],
        };
        let offers = |id: &str| Message::Offers(vec![offer(id, "a1", vec![cpus(4.0)])]);
        let mut r = Reducer::new(Config::default());
        let mut out = Vec::new();
        let mut step = |r: &mut Reducer, m: Message, now: f64| {
            out.clear();
            r.step(m, now, &mut out).unwrap();
            out.clone()
        };
        step(
            &mut r,
            Message::Subscribed {
                framework_id: "fw".into(),
                heartbeat_interval_seconds: None,
            },
            0.0,
        );
        step(&mut r, request("w1"), 1.0);
        assert!(matches!(
            step(&mut r, offers("o1"), 1.0)[0],
            Effect::Accept(_)
        ));
        let failed = TaskStatus {
            task_id: "w1",
            state: TaskState::Failed,
            agent_id: Some("a1"),
            executor_id: None,
            reason: None,
            source: None,
            message: None,
            uuid: None,
            timestamp: None,
            healthy: None,
        };
        assert!(step(&mut r, Message::Update(failed), 10.0).is_empty());
        assert_eq!(step(&mut r, request("w2"), 10.0), vec![Effect::Revive]);
        let declined = step(&mut r, offers("o2"), 10.5);
        assert!(
            matches!(&declined[..], [Effect::Decline { refuse_seconds, .. }] if *refuse_seconds == 5.0)
        );
        assert_eq!(&*r.state.pending_reasons["w2"], REASON);
        assert!(step(&mut r, Message::Tick, 10.9).is_empty());
        assert_eq!(step(&mut r, Message::Tick, 11.0), vec![Effect::Revive]);
        assert!(matches!(
            step(&mut r, offers("o3"), 11.5)[0],
            Effect::Accept(_)
        ));
    }
}
