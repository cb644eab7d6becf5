//! The reducer's transitions, message by message.

use super::*;
use crate::messages::{Launch, Offer as OfferMessage, Resource, Source, TaskState};
use crate::state::Phase;

/// Shared with the feature modules' own tests (backoff, unreachable).
pub(super) fn cpus(amount: f64) -> Resource {
    Resource {
        name: "cpus".into(),
        scalar: Some(amount),
        ranges: None,
        set: None,
        role: "*".into(),
        ..Resource::scalar("cpus", 0.0, "*")
    }
}

fn ports(lo: i64, hi: i64) -> Resource {
    Resource {
        name: "ports".into(),
        scalar: None,
        ranges: Some(vec![(lo, hi)]),
        set: None,
        role: "*".into(),
        ..Resource::scalar("cpus", 0.0, "*")
    }
}

pub(super) fn offer(id: &str, agent: &str, resources: Vec<Resource>) -> OfferMessage {
    OfferMessage {
        id: id.into(),
        agent_id: agent.into(),
        hostname: format!("{agent}.example"),
        resources,
        attributes: vec![],
        role: None,
        unavailability: None,
    }
}

pub(super) fn launch(task: &str, resources: Vec<Resource>) -> Launch {
    Launch {
        task_id: task.into(),
        name: String::new(),
        resources,
        payload: vec![],
        named_ports: vec![],
        health_check: None,
        kill_policy: None,
        pod: vec![],
    }
}

pub(super) fn status(task: &str, state: TaskState) -> TaskStatus<'_> {
    TaskStatus {
        task_id: task,
        state,
        agent_id: Some("a1"),
        executor_id: None,
        reason: None,
        source: Some(Source::Agent),
        message: None,
        uuid: None,
        timestamp: None,
        healthy: None,
    }
}

/// An update of `task` on `agent`, as the master sends it.
pub(super) fn update<'a>(task: &'a str, state: TaskState, agent: &'a str) -> Message<'a> {
    Message::Update(TaskStatus {
        agent_id: Some(agent),
        source: Some(Source::Master),
        ..status(task, state)
    })
}

pub(super) fn step(r: &mut Reducer, m: Message<'_>, now: f64) -> Vec<Effect> {
    let mut out = Vec::new();
    r.step(m, now, &mut out).expect("step");
    out
}

pub(super) fn subscribed() -> Message<'static> {
    Message::Subscribed {
        framework_id: "fw".into(),
        heartbeat_interval_seconds: Some(15.0),
    }
}

/// Subscribed, with task `t1` running on `a1` and reconciliation done.
pub(super) fn running() -> Reducer {
    let mut r = Reducer::default();
    step(&mut r, subscribed(), 0.0);
    step(
        &mut r,
        Message::Offers(vec![offer("o1", "a1", vec![cpus(4.0)])]),
        1.0,
    );
    step(
        &mut r,
        Message::Accept {
            offer_ids: vec!["o1".into()],
            launches: vec![launch("t1", vec![cpus(1.0)])],
            refuse_seconds: 5.0,
            operations: vec![],
        },
        2.0,
    );
    step(
        &mut r,
        Message::Update(status("t1", TaskState::Running)),
        3.0,
    );
    r
}

#[test]
fn accept_launches_and_uses_the_offer_once() {
    let mut r = running();
    assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Running);
    assert!(r.state.offers.is_empty());
    let mut out = Vec::new();
    let again = Message::Accept {
        offer_ids: vec!["o1".into()],
        launches: vec![launch("t2", vec![])],
        refuse_seconds: 5.0,
        operations: vec![],
    };
    assert!(matches!(
        r.step(again, 4.0, &mut out),
        Err(CoreError::Rejected(_))
    ));
    assert!(out.is_empty());
}

#[test]
fn rejected_accept_changes_nothing() {
    let mut r = Reducer::default();
    step(&mut r, subscribed(), 0.0);
    step(
        &mut r,
        Message::Offers(vec![offer("o1", "a1", vec![cpus(1.0), ports(100, 199)])]),
        1.0,
    );
    let before = r.state.clone();
    for launches in [
        vec![launch("t1", vec![cpus(1.5)])],
        vec![launch("t1", vec![ports(150, 250)])],
        vec![
            launch("t1", vec![ports(100, 120)]),
            launch("t2", vec![ports(120, 130)]),
        ],
        vec![launch("t1", vec![]), launch("t1", vec![])],
        vec![launch("t1", vec![cpus(-1.0)])],
        vec![],
    ] {
        let mut out = Vec::new();
        let accept = Message::Accept {
            offer_ids: vec!["o1".into()],
            launches,
            refuse_seconds: 5.0,
            operations: vec![],
        };
        assert!(matches!(
            r.step(accept, 2.0, &mut out),
            Err(CoreError::Rejected(_))
        ));
        assert!(out.is_empty());
        assert_eq!(r.state, before);
    }
}

#[test]
fn every_uuid_is_acknowledged_and_duplicates_do_not_apply() {
    let mut r = running();
    let mut update = status("t1", TaskState::Finished);
    update.uuid = Some(&[7; 16]);
    let out = step(&mut r, Message::Update(update.clone()), 5.0);
    assert!(matches!(&out[..], [Effect::Acknowledge { task_id, .. }] if &**task_id == "t1"));
    assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Finished);
    let out = step(&mut r, Message::Update(update), 6.0);
    assert_eq!(out.len(), 1, "a retried update is acknowledged again");
    assert_eq!(r.state.tasks.get("t1").unwrap().updated_at, 5.0);
}

#[test]
fn a_terminal_task_coming_back_is_killed_not_revived() {
    let mut r = running();
    step(&mut r, Message::Update(status("t1", TaskState::Lost)), 5.0);
    let out = step(
        &mut r,
        Message::Update(status("t1", TaskState::Running)),
        6.0,
    );
    assert_eq!(
        out,
        vec![Effect::Kill {
            task_id: "t1".into(),
            agent_id: Some("a1".into())
        }]
    );
    assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Lost);
}

#[test]
fn an_older_status_does_not_overwrite_a_newer_one() {
    let mut r = running();
    let mut newer = status("t1", TaskState::Killing);
    newer.timestamp = Some(10.0);
    newer.uuid = Some(&[1; 16]);
    let mut older = status("t1", TaskState::Running);
    older.timestamp = Some(9.0);
    older.uuid = Some(&[2; 16]);
    step(&mut r, Message::Update(newer), 5.0);
    step(&mut r, Message::Update(older), 6.0);
    assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Killing);
}

#[test]
fn a_tracked_task_is_reconciled_and_a_known_one_untouched() {
    let mut r = running();
    let before = r.state.tasks.get("t1").unwrap().clone();
    let track = |id: &str| Message::Track {
        task_id: id.into(),
        agent_id: Some("a2".into()),
        request: None,
    };
    assert_eq!(step(&mut r, track("t1"), 5.0), vec![]);
    assert_eq!(*r.state.tasks.get("t1").unwrap(), before);
    assert_eq!(step(&mut r, track("t9"), 6.0), vec![]);
    let t9 = r.state.tasks.get("t9").unwrap();
    assert_eq!(t9.state, TaskState::Staging);
    assert_eq!(t9.agent_id.as_deref(), Some("a2"));
}

#[test]
fn a_master_answer_does_not_make_the_agents_pending_updates_stale() {
    // After a master failover the reconciliation answer (no uuid, stamped
    // when the master answers) can come before the agent's own RUNNING.
    let mut r = running();
    let mut answer = status("t1", TaskState::Starting);
    answer.timestamp = Some(20.0);
    answer.source = Some(Source::Master);
    let mut pending = status("t1", TaskState::Running);
    pending.timestamp = Some(15.0);
    pending.uuid = Some(&[3; 16]);
    step(&mut r, Message::Update(answer), 5.0);
    step(&mut r, Message::Update(pending), 6.0);
    assert_eq!(r.state.tasks.get("t1").unwrap().state, TaskState::Running);
}

#[test]
fn malformed_updates_are_errors_that_change_nothing() {
    let mut r = running();
    let before = r.state.clone();
    let mut short_uuid = status("t1", TaskState::Failed);
    short_uuid.uuid = Some(&[1, 2, 3]);
    let mut no_agent = status("t1", TaskState::Failed);
    no_agent.uuid = Some(&[1; 16]);
    no_agent.agent_id = None;
    for bad in [short_uuid, no_agent] {
        let mut out = Vec::new();
        assert!(matches!(
            r.step(Message::Update(bad), 5.0, &mut out),
            Err(CoreError::Message(_))
        ));
        assert!(out.is_empty());
        assert_eq!(r.state, before);
    }
}

#[test]
fn disconnection_voids_offers_and_aborts_reconciliation() {
    let mut r = running();
    step(
        &mut r,
        Message::Offers(vec![offer("o2", "a1", vec![])]),
        4.0,
    );
    step(&mut r, Message::ReconcileTick, 5.0);
    assert!(r.state.is_reconciling());
    step(&mut r, Message::Disconnected, 6.0);
    assert!(!r.state.registered && r.state.offers.is_empty());
    assert_eq!(r.state.reconciliation.phase, Phase::Idle);
}

#[test]
fn tick_declines_offers_held_too_long() {
    let mut r = Reducer::default();
    step(&mut r, subscribed(), 0.0);
    step(
        &mut r,
        Message::Offers(vec![offer("o2", "a1", vec![]), offer("o1", "a2", vec![])]),
        1.0,
    );
    step(
        &mut r,
        Message::Offers(vec![offer("o3", "a3", vec![])]),
        4.0,
    );
    let out = step(&mut r, Message::Tick, 6.0);
    assert_eq!(
        out,
        vec![Effect::Decline {
            offer_ids: vec!["o1".into(), "o2".into()],
            refuse_seconds: 5.0
        }]
    );
    assert_eq!(r.state.offers.len(), 1);
}

#[test]
fn suppression_is_idempotent_and_restated_to_a_new_master() {
    let mut r = Reducer::default();
    step(&mut r, subscribed(), 0.0);
    assert_eq!(step(&mut r, Message::Suppress, 1.0), vec![Effect::Suppress]);
    assert_eq!(step(&mut r, Message::Suppress, 2.0), vec![]);
    let out = step(&mut r, subscribed(), 3.0);
    assert_eq!(out[0], Effect::Suppress);
    assert_eq!(step(&mut r, Message::Revive, 4.0), vec![Effect::Revive]);
    assert_eq!(step(&mut r, Message::Revive, 5.0), vec![Effect::Revive]);
    assert!(!r.state.suppressed);
}
